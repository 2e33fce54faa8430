package slurm

import (
	"fmt"
	"strings"
	"text/template"
)

// jobScript is the batch script of one training. It runs outside the
// sandbox, on the node, and is the trusted half of the job: it picks the
// sandbox the node allows, feeds the worker its spec and the
// coordinator's answers from the control file, stamps every event line
// with the node's clock into the events file (outside the worker's
// scratch folder, so the model cannot write there), caps the output, and
// records the exit status. Every attempt (a requeued job runs again) has
// its own folder.
var jobScript = template.Must(template.New("job").Parse(`#!/bin/bash
# nngpt training job {{.RunID}} ({{.Name}}), written by the coordinator.
set -u
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LANG=C LC_ALL=C
D={{.Dir}}
S="$D/scratch"
E="$D/attempt-${SLURM_RESTART_COUNT:-0}"
mkdir -p "$E" || exit 1
: >>"$E/control"
rm -f "$S"/pred-*.npy
mode={{.Mode}}
if [ "$mode" != none ] && command -v bwrap >/dev/null 2>&1 && bwrap --ro-bind / / --unshare-all --die-with-parent true 2>/dev/null; then
	iso=bwrap spec="$D/spec.bwrap"
	cmd=({{.BwrapArgv}})
	envs=({{.BwrapEnv}})
elif [ "$mode" = bwrap ]; then
	echo "bubblewrap cannot run on $(hostname) (sandbox mode bwrap)" >"$E/hostfail"
	exit 3
else
	iso=limits-only spec="$D/spec.plain"
	cmd=({{.PlainArgv}})
	envs=({{.PlainEnv}})
fi
{{- if .CUDA}}
# The GPUs Slurm gave this job (gres), not the coordinator's.
for v in CUDA_VISIBLE_DEVICES NVIDIA_VISIBLE_DEVICES; do
	[ -n "${!v:-}" ] && envs+=("$v=${!v}")
done
{{- end}}
echo "$iso" >"$E/isolation"
priv=()
[ "$(id -u)" = 0 ] && priv=(setpriv --reuid={{.UID}} --regid={{.UID}} --clear-groups)
feed() {
	echo "$BASHPID" >"$E/feed.pid"
	cat "$spec" && echo || return
	local n=0 w ws
	while :; do
		mapfile -t -s "$n" ws <"$E/control"
		for w in "${ws[@]}"; do
			echo "$EPOCHREALTIME" >>"$E/delivered"
			printf '%s\n' "$w" || return
			n=$((n + 1))
		done
		sleep {{.Poll}}
	done
}
stamp() {
	local l
	while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done
	[ -z "$l" ] || printf '%s %s' "$EPOCHREALTIME" "$l"
}
cd "$S"
echo "$EPOCHREALTIME" >"$E/started.tmp" && mv "$E/started.tmp" "$E/started"
{
	"${priv[@]}" env -i "${envs[@]}" "${cmd[@]}" 3>&1 1> >(exec head -c {{.OutputCap}} >>"$E/log") 2>&1 < <(feed)
	echo "$?" >"$E/code"
	kill "$(cat "$E/feed.pid")" 2>/dev/null
} | stamp >>"$E/events"
flood=0
[ "$(stat -c %s "$E/log" 2>/dev/null || echo 0)" -ge {{.OutputCap}} ] && flood=1
echo "$(cat "$E/code") $flood" >"$E/exit.tmp" && mv "$E/exit.tmp" "$E/exit"
exit 0
`))

type scriptData struct {
	RunID, Name, Dir, Mode string
	BwrapArgv, BwrapEnv    string
	PlainArgv, PlainEnv    string
	UID                    int
	CUDA                   bool
	OutputCap              int64
	Poll                   string
}

// shellWords quotes each word for bash.
func shellWords(ws []string) string {
	q := make([]string, len(ws))
	for i, w := range ws {
		q[i] = shellQuote(w)
	}
	return strings.Join(q, " ")
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func renderScript(d scriptData) (string, error) {
	var b strings.Builder
	if err := jobScript.Execute(&b, d); err != nil {
		return "", fmt.Errorf("job script: %w", err)
	}
	return b.String(), nil
}
