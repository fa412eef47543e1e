#!/usr/bin/env bash
# A release build of vigil: the Swift runtime linked in statically, stripped,
# its debug symbols beside it, its code laid out in the order it runs.
#
# Usage: scripts/release.sh SCRATCH NAME [SWIFT_BUILD_OPTION...]
#   scripts/release.sh .build-static vigil                                 (make release)
#   scripts/release.sh .build-small vigil-small --disable-default-traits   (make release-small)
# Leaves dist/NAME (stripped) and dist/NAME.debug (linked by .gnu_debuglink);
# SCRATCH/release/vigil is the same binary unstripped. RELEASE_PRODUCTS lists
# other products to build with the same flags (the benchmarks: vigil-load).
#
# The flags, and why:
# - -use-ld=lld, -z pack-relative-relocs: relocations packed into a few kB
#   (needs glibc 2.36: Debian 12, Raspberry Pi OS bookworm).
# - --no-export-dynamic: the Swift runtime's link options ask for a dynamic
#   symbol table (-export-dynamic: 42,000 symbols, 4 MB of file and 2.5-4.6 MB
#   of resident memory); nothing looks them up.
# - -function-sections (Swift) and -ffunction-sections (C): every function in
#   its own section, so that the linker can drop the ones nothing calls and
#   put the ones the server runs together, first: SCRATCH/code-order.ld, a
#   linker script that scripts/code_order.py writes from a profile of the
#   binary itself (valgrind), with the link map (SCRATCH/vigil.map) to find
#   the section of every instruction that ran. The kernel maps code 64 kB at a
#   time around each page a process touches: spread over the binary, the
#   code the server runs kept 15 MB of it resident; packed, 4.5.
#   After a change of these flags, delete SCRATCH: the compiler does not
#   redo the code of a module whose source did not change.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 2 ]; then
    sed -n '5,8p' "$0" >&2
    exit 2
fi
scratch="$1"
name="$2"
shift 2
order="$PWD/$scratch/code-order.ld"
link_map="$PWD/$scratch/vigil.map"
mkdir -p "$scratch" dist
[ -e "$order" ] || echo "/* No profile yet: lld's default layout. */" > "$order"

flags=(-c release --static-swift-stdlib --scratch-path "$scratch"
    -Xswiftc -use-ld=lld -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections
    -Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic
    -Xlinker "--script=$order" -Xlinker "-Map=$link_map" "$@")

binary="$scratch/release/vigil"
# Every link writes the map, other products' links too: relink vigil so that
# the map is its own. (The link command is the same each time, so only a
# missing output relinks.)
rm -f "$binary"
swift build "${flags[@]}" --product vigil
if command -v valgrind >/dev/null; then
    if ! python3 scripts/code_order.py "$binary" "$link_map" "$order.new"; then
        echo "release: the profile failed (above): the code keeps its previous layout" >&2
        cp "$order" "$order.new"
    fi
    if ! cmp -s "$order.new" "$order"; then
        mv "$order.new" "$order"
        rm -f "$binary"
        swift build "${flags[@]}" --product vigil
    fi
    rm -f "$order.new"
else
    echo "release: valgrind not found: the code is not laid out by use (idle RSS about 10 MB higher)" >&2
fi
for product in ${RELEASE_PRODUCTS:-}; do
    swift build "${flags[@]}" --product "$product"
done

objcopy --only-keep-debug "$binary" "dist/$name.debug"
strip --strip-all -o "dist/$name" "$binary"
(cd dist && objcopy --add-gnu-debuglink="$name.debug" "$name")
ls -l "dist/$name" "dist/$name.debug"
