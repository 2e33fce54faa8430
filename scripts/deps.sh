# Shared by scripts/test and scripts/run: make sure the machine has what nngpt
# needs (Go, python3 with torch and torchvision, bubblewrap), installing the
# Debian packages with apt-get where it can, printing the exact command where
# it cannot. Source it; it defines ensure_deps.

ensure_deps() {
	if ! command -v go >/dev/null 2>&1; then
		if [ -x /usr/local/go/bin/go ]; then
			export PATH="/usr/local/go/bin:$PATH"
		else
			echo "nngpt needs Go 1.26 or newer: install it from https://go.dev/dl/ (tar -C /usr/local -xzf go*.tar.gz) and put /usr/local/go/bin on PATH" >&2
			return 1
		fi
	fi

	local missing=()
	local py=""
	for cand in "${NNGPT_PYTHON:-}" /usr/bin/python3 python3; do
		[ -n "$cand" ] || continue
		if "$cand" -c 'import torch, torchvision' >/dev/null 2>&1; then py="$cand"; break; fi
	done
	[ -n "$py" ] || missing+=(python3-torch python3-torchvision)
	command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
	if [ ${#missing[@]} -gt 0 ]; then
		if command -v apt-get >/dev/null 2>&1; then
			local sudo=""
			[ "$(id -u)" = 0 ] || sudo="sudo"
			echo "installing ${missing[*]} with apt-get" >&2
			$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null || {
				echo "apt-get failed: run  sudo apt-get install ${missing[*]}" >&2
				return 1
			}
		else
			echo "nngpt needs: ${missing[*]}." >&2
			echo "  Debian/Ubuntu: sudo apt-get install python3-torch python3-torchvision bubblewrap" >&2
			echo "  elsewhere: pip install torch torchvision, and bubblewrap from your package manager" >&2
			echo "  (or set NNGPT_PYTHON to a python3 that can import torch)" >&2
			return 1
		fi
	fi
	go mod download
}

# ensure_chromium installs Debian's chromium for the dashboard's browser
# tests (about 1.5 minutes) where apt-get can; elsewhere those tests skip
# and say so.
ensure_chromium() {
	command -v chromium >/dev/null 2>&1 && return 0
	if command -v apt-get >/dev/null 2>&1; then
		local sudo=""
		[ "$(id -u)" = 0 ] || sudo="sudo"
		echo "installing chromium with apt-get (for the dashboard's browser tests)" >&2
		$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null || \
			echo "apt-get could not install chromium: the dashboard's browser tests will skip (sudo apt-get install chromium)" >&2
	else
		echo "no chromium: the dashboard's browser tests will skip (install Chromium to run them)" >&2
	fi
	return 0
}
