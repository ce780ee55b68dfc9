#!/bin/sh
# go.sh: runs the go tool on tests/gosrv offline and hermetically, for meson.
#
#   [GO=/usr/bin/go] go.sh BUILDDIR SUBCOMMAND [ARGS...]
#   e.g.  go.sh build/tests/gosrv build -trimpath -o /abs/gosrv .
#
# The go tool ($GO, default go from PATH) runs in this directory (the module
# root), so paths in ARGS (-o) must be absolute. Why the settings: GOPROXY=off with no requirements in
# go.mod means nothing is ever downloaded; GOENV=off and GOWORK=off keep the
# caller's go env file or a go.work above the tree from changing the build;
# GOFLAGS/GOROOT from the caller are cleared so they cannot turn vendoring or
# another toolchain on; GOCACHE and GOPATH live in BUILDDIR because go refuses
# to build without a cache and CI may have no writable $HOME; -buildvcs=false
# because go would otherwise try to stamp the binary from the enclosing git
# checkout; CGO_ENABLED=0 needs no C toolchain and gives one static binary.
set -eu
[ $# -ge 2 ] || { echo "usage: go.sh BUILDDIR SUBCOMMAND [ARGS...]" >&2; exit 2; }
mkdir -p "$1"
build=$(cd "$1" && pwd)
shift
cd "$(dirname "$0")"
exec env -u GOFLAGS -u GOROOT GO111MODULE=on GOPROXY=off GOENV=off GOWORK=off \
    GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOCACHE="$build/.gocache" GOPATH="$build/.gopath" \
    "${GO:-go}" "$@"
