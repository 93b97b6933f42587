#!/usr/bin/env bash
# Fetches llama.cpp's source as vendored in the llama-cpp-python sdist on PyPI and keeps only what
# llama-bench and llama-quantize need (CPU and CUDA backends), under bench/peers/llama.cpp
# (ignored by git; a few MiB, so it can travel with the device tool). Re-entrant: does nothing when
# the trimmed tree of that version is already there.
#   fetch_llama_cpp.sh [version]      default 0.3.36
set -euo pipefail
cd "$(dirname "$0")"
version=${1:-0.3.36}
dest=llama.cpp
if [[ -f $dest/.sdist-version && $(cat $dest/.sdist-version) == "$version" ]]; then
  echo "llama.cpp from llama-cpp-python $version already in bench/peers/$dest"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The sdist's address from PyPI's simple index (pip download would build its metadata first).
url=$(curl -fsS -m 60 https://pypi.org/simple/llama-cpp-python/ |
  grep -o "https://[^\"]*/llama_cpp_python-$version.tar.gz#sha256=[0-9a-f]*" | head -n 1)
[[ -n $url ]] || { echo "llama-cpp-python $version: no sdist on PyPI's simple index" >&2; exit 1; }
curl -fsS -m 300 -o "$tmp/llama_cpp_python-$version.tar.gz" "${url%%#*}"
echo "${url##*sha256=}  $tmp/llama_cpp_python-$version.tar.gz" | sha256sum -c --quiet
tar xzf "$tmp"/llama_cpp_python-"$version".tar.gz -C "$tmp"
src="$tmp/llama_cpp_python-$version/vendor/llama.cpp"
rm -rf "$dest"
mkdir -p "$dest"
# The library, ggml (CPU and CUDA backends only), the common helpers and the two tools.
cp -r "$src"/{CMakeLists.txt,cmake,include,src,common,vendor,LICENSE} "$dest"/
[[ -d $src/licenses ]] && cp -r "$src/licenses" "$dest"/
mkdir -p "$dest/ggml/src" "$dest/tools"
cp -r "$src"/ggml/{CMakeLists.txt,cmake,include} "$dest/ggml"/
find "$src/ggml/src" -maxdepth 1 -type f -exec cp {} "$dest/ggml/src"/ \;
cp -r "$src"/ggml/src/{ggml-cpu,ggml-cuda} "$dest/ggml/src"/
cp -r "$src"/tools/{llama-bench,quantize} "$dest/tools"/
# Other backends' folders are only added when enabled; the tools list is cut to the two we build.
cat >"$dest/tools/CMakeLists.txt" <<'CM'
find_package(Threads REQUIRED)
llama_add_compile_flags()
add_subdirectory(llama-bench)
add_subdirectory(quantize)
CM
rm -rf "$dest/vendor/miniaudio" "$dest/vendor/stb"
sed -i -e '/add_subdirectory(miniaudio)/d' -e '/add_subdirectory(stb)/d' "$dest/vendor/CMakeLists.txt"
echo "$version" >"$dest/.sdist-version"
du -sh "$dest"
