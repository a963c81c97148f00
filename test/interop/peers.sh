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

# peers_go_run <file.go> args...: build and run one Go file in a throwaway GOPATH entry.
peers_go_run() {
  local file="$1"; shift
  local gopath
  gopath=$(mktemp -d /tmp/tessera-go.XXXXXX)
  mkdir -p "$gopath/src/tesserapeer"
  cp "$file" "$gopath/src/tesserapeer/main.go"
  printf 'module tesserapeer\n' > "$gopath/src/tesserapeer/go.mod"
  (cd "$gopath/src/tesserapeer" && GO111MODULE=off GOFLAGS= GOPATH="$gopath:/usr/share/gocode" GOCACHE="${GOCACHE:-/tmp/tessera-gocache}" go build -o "$gopath/peer" .)
  local rc=0
  "$gopath/peer" "$@" || rc=$?
  rm -rf "$gopath"
  return $rc
}
