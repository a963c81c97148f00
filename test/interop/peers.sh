# Shared by test/fixtures/bakery/generate.sh and the interop test's programs: install the
# Debian peer packages when missing, and run a Go program against Debian's Go sources.
# Debian ships the Go libraries as sources under /usr/share/gocode and there is no module proxy,
# so Go runs in GOPATH mode (GO111MODULE=off). The bakery's imports say .../v3/...: Go resolves
# those in GOPATH mode only from "new" code (a directory with a go.mod), hence the go.mod below.

PEER_PACKAGES=(golang-go golang-gopkg-macaroon.v2-dev golang-github-go-macaroon-bakery-macaroon-bakery-dev python3-pymacaroons python3-macaroonbakery)

peers_missing() {
  local missing=()
  for p in "${PEER_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  echo "${missing[@]}"
}

peers_install() {
  local missing
  missing=$(peers_missing)
  [ -z "$missing" ] && return 0
  echo "installing $missing" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
}

# peers_go_build <file.go> <output binary>: build one Go file in a throwaway GOPATH entry.
peers_go_build() {
  local file="$1" out="$2" gopath
  gopath=$(mktemp -d /tmp/tessera-go.XXXXXX)
  mkdir -p "$gopath/src/tesserapeer"
  cp "$file" "$gopath/src/tesserapeer/main.go"
  printf 'module tesserapeer\n' > "$gopath/src/tesserapeer/go.mod"
  local rc=0
  (cd "$gopath/src/tesserapeer" && GO111MODULE=off GOFLAGS= GOPATH="$gopath:/usr/share/gocode" GOCACHE="${GOCACHE:-/tmp/tessera-gocache}" go build -o "$out" .) || rc=$?
  rm -rf "$gopath"
  return $rc
}

# peers_go_run <file.go> args...: build it, run it once.
peers_go_run() {
  local file="$1"; shift
  local bin rc=0
  bin=$(mktemp /tmp/tessera-go-bin.XXXXXX)
  peers_go_build "$file" "$bin" && "$bin" "$@" || rc=$?
  rm -f "$bin"
  return $rc
}
