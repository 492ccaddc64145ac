#!/bin/sh
# gen-smimectl.sh SMIMECTL SOURCE - smimectl(1): the header comment of
# tools/smimectl.c (srctoman.awk, command in $SRCTOMAN) with a COMMANDS
# section made of "smimectl help COMMAND" for every command that
# "smimectl help" lists, so the page shows exactly the options the
# program takes.
set -eu
smimectl=$1
src=$2
page=$($SRCTOMAN "$src")
esc() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
printf '%s\n' "$page" | sed '/^\.SH EXIT STATUS/,$d'
echo ".SH COMMANDS"
"$smimectl" help | sed -n '/^Commands:/,/^$/p' |
	sed -n 's/^  \([a-z][a-z]*\) .*/\1/p' | awk '!seen[$0]++' |
while read -r cmd; do
	case $cmd in help|version) continue ;; esac
	echo ".SS smimectl $cmd"
	echo ".nf"
	"$smimectl" help "$cmd" | esc
	echo ".fi"
done
printf '%s\n' "$page" | sed -n '/^\.SH EXIT STATUS/,$p'
