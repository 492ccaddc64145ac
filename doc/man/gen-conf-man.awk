# gen-conf-man.awk - the PARAMETERS section of smimeguard.conf(5)
#
#   awk -f gen-conf-man.awk TABLE conf.d/smimeguard.conf
#
# TABLE is "smimectl config --table": name, default and syntax of every
# setting, from the tables the code reads (the core's, common/config.c,
# and every program's, settings/sg-settings.h).  The
# descriptions are the comments of the commented example configuration,
# conf.d/smimeguard.conf (the file installed in /etc/smimeguard): the
# comment block above "#name = default" describes name (consecutive
# setting lines share it), "# ---- Title ----" starts a subsection.
# So the manual lists exactly the settings and defaults of the code.
#
# With -v check=1 nothing is printed; problems go to standard error and
# the exit status is 1: a setting of the code the example does not
# document, or an example whose "#name = value" default differs from
# the code's.
function esc(s) {
	gsub(/\\/, "\\e", s)
	if (s ~ /^[.']/) s = "\\&" s
	return s
}
function nice(v) { return v == "" ? "empty" : "\"" esc(v) "\"" }
function syntax_text(s) { if (s !~ / /) gsub(/\|/, " | ", s); return esc(s) }
# emit the pending group: its settings, then the description
function flush_group(   i, n, line, pre) {
	if (ngroup == 0) return
	for (i = 1; i <= ngroup; i++) {
		n = group[i]
		if (!check) {
			print (i == 1 ? ".TP" : ".TQ")
			printf(".B %s\n(default: %s; %s)\n", n, nice(def[n]), syntax_text(syn[n]))
			if (i == ngroup) print ".br"
		}
	}
	if (!check) {
		pre = 0
		for (i = 1; i <= ndesc; i++) {
			line = desc[i]
			if (line ~ /^  / || line ~ /^\t/) {
				if (!pre) { print ".nf"; pre = 1 }
				print esc(line)
			} else {
				if (pre) { print ".fi"; pre = 0 }
				if (line == "") print ".IP"; else print esc(line)
			}
		}
		if (pre) print ".fi"
		for (i = 1; i <= ngroup; i++) {
			n = group[i]
			if (example[n] != "")
				printf(".IP\nExample: \\fB%s = %s\\fR\n", n, esc(example[n]))
		}
	}
	ngroup = 0
}
BEGIN { FS = "\t"; failed = 0 }
FNR == NR {		# the table
	order[++ntable] = $1; def[$1] = $2; syn[$1] = $3; known[$1] = 1
	next
}
FNR == 1 { FS = " "; ndesc = 0; ngroup = 0; after_setting = 0 }
/^[ \t]*$/ { flush_group(); ndesc = 0; after_setting = 0; next }
/^# *-+ .* -+ *$/ {		# a subsection
	flush_group()
	t = $0; sub(/^# *-+ */, "", t); sub(/ *-+ *$/, "", t)
	if (!check) printf(".SS %s\n", esc(t))
	ndesc = 0; after_setting = 0
	next
}
/^#?[a-z][a-z0-9_]*[ \t]*=/ {		# a setting, commented or not
	line = $0; commented = sub(/^#/, "", line)
	name = line; sub(/[ \t]*=.*/, "", name)
	value = line; sub(/^[^=]*=[ \t]*/, "", value); sub(/[ \t]+$/, "", value)
	if (!(name in known)) {		# $config_dir and the like
		flush_group(); ndesc = 0; after_setting = 1
		next
	}
	if (!(name in seen)) {
		seen[name] = 1
		if (!after_setting) flush_group()
		group[++ngroup] = name
		if (commented && value != def[name]) {
			printf("conf.d/smimeguard.conf, line %d: #%s = %s, but the default (smimectl config --table) is %s\n",
			       FNR, name, value, nice(def[name])) > "/dev/stderr"
			failed = 1
		}
		if (ndesc == 0) {
			printf("conf.d/smimeguard.conf, line %d: %s has no description (a comment above it)\n",
			       FNR, name) > "/dev/stderr"
			failed = 1
		}
	} else if (value != def[name] && example[name] == "") {
		example[name] = value
	}
	after_setting = 1
	next
}
/^#/ {			# description text
	if (after_setting) { flush_group(); ndesc = 0; after_setting = 0 }
	t = $0; sub(/^# ?/, "", t)
	desc[++ndesc] = t
	next
}
END {
	flush_group()
	for (i = 1; i <= ntable; i++) {
		n = order[i]
		if (n in seen) continue
		printf("conf.d/smimeguard.conf: the setting %s (smimectl config --table) is not documented there\n",
		       n) > "/dev/stderr"
		failed = 1
		if (!check) {
			if (!other++) print ".SS Other settings"
			printf(".TP\n.B %s\n(default: %s; %s)\nNot described yet.\n", n, nice(def[n]), syntax_text(syn[n]))
		}
	}
	exit check ? failed : 0
}
