# srctoman.awk - the man page in a source file's header comment, as roff
#
# The header is Postfix's: "/*++" ... "/*--*/", sections "/* NAME" at the
# left, text indented by a tab.  NAME's first line is "name section";
# SUMMARY is the one-line description.  A body line "-x arg<TAB>text"
# (an option) starts a tagged paragraph; lines indented by two or more
# tabs continue it, or are kept as they are (SYNOPSIS, examples); an empty
# line ends a paragraph.  Variables: date (for .TH), version.
function esc(s) {
	gsub(/\\/, "\\e", s)
	sub(/^[.']/, "\\\\\\&&", s)
	gsub(/-/, "\\-", s)
	return s
}
function flush_para() { in_tp = 0 }
function close_nf() { if (nf == 2) print ".RE"; if (nf) print ".fi"; nf = 0 }
BEGIN { state = 0 }
/^\/\*\+\+/ { state = 1; next }
/^\/\*--\*\// { state = 2; exit }
state != 1 { next }
{
	sub(/^\/\*/, "")
	if ($0 ~ /^ [A-Z][A-Z ]*$/) {		# a section heading
		section = substr($0, 2)
		close_nf(); flush_para()
		if (section == "NAME" || section == "SUMMARY")
			next
		if (!header_done) {
			printf(".TH %s %s \"%s\" \"smimeguard %s\" \"smimeguard\"\n",
			       toupper(name), mansect, date, version)
			printf(".SH NAME\n%s \\- %s\n", esc(name), esc(summary))
			header_done = 1
		}
		printf(".SH %s\n", section)
		if (section == "SYNOPSIS") { print ".nf"; nf = 1 }
		next
	}
	if (section == "NAME") {
		sub(/^\t/, ""); split($0, a, /[ \t]+/); name = a[1]; mansect = a[2]; next
	}
	if (section == "SUMMARY") { sub(/^\t/, ""); summary = $0; next }
	if (section == "SYNOPSIS") {
		if ($0 ~ /^[ \t]*$/) { print ""; next }
		line = $0; sub(/^\t/, "", line); gsub(/\t/, "        ", line)
		print esc(line)
		next
	}
	if ($0 ~ /^[ \t]*$/) {
		close_nf(); flush_para(); print ".PP"; next
	}
	if ($0 ~ /^\t\t/ || $0 ~ /^\t    /) {		# continuation or example
		line = $0
		if (in_tp && $0 ~ /^\t\t\t?[^\t ]/) { sub(/^\t+/, "", line); print esc(line); next }
		sub(/^\t/, "", line); gsub(/\t/, "        ", line)
		if (!nf) { print ".nf"; print ".RS"; nf = 2 }
		print esc(line)
		next
	}
	close_nf()
	line = $0; sub(/^\t/, "", line)
	if (line ~ /^(-[A-Za-z-]|\/)/ && index(line, "\t") > 0) {	# an option or a file
		tag = substr(line, 1, index(line, "\t") - 1)
		rest = substr(line, index(line, "\t")); sub(/^\t+/, "", rest)
		printf(".TP\n.B %s\n%s\n", esc(tag), esc(rest))
		in_tp = 1
		next
	}
	if (in_tp) { print ".PP"; in_tp = 0 }
	print esc(line)
}
END {
	close_nf()
	if (state != 2 && state != 1) { print "srctoman: no /*++ header" > "/dev/stderr"; exit 1 }
}
