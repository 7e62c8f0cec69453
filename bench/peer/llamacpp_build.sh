# Shared by the llama.cpp scripts (sourced): llama.cpp built from the sources that the PyPI package
# llama-cpp-python ships (its sdist's vendor/llama.cpp; nothing of it is committed), CPU only, under nice.
#   llamacpp_build WORK BUILD_DIR NATIVE TARGET...
# WORK keeps the sdist and its unpacked sources (build-llamacpp/ by default in the scripts, ignored by git);
# BUILD_DIR is where it is configured (NATIVE=ON: -march=native, what a benchmark wants; OFF: portable, enough for
# the tokenizer check). Targets already built are not rebuilt. Sets LLAMACPP_SRC and LLAMACPP_VERSION.
llamacpp_build() {
  local work=$1 build=$2 native=$3
  shift 3
  mkdir -p "$work"
  local sdist
  sdist=$(ls "$work"/llama_cpp_python-*.tar.gz 2>/dev/null | head -1 || true)
  if [[ -z $sdist ]]; then
    python3 -m pip download --no-deps --no-binary :all: llama-cpp-python -d "$work" >&2
    sdist=$(ls "$work"/llama_cpp_python-*.tar.gz | head -1)
  fi
  LLAMACPP_SRC="${sdist%.tar.gz}"
  LLAMACPP_VERSION=$(basename "$LLAMACPP_SRC")
  [[ -d $LLAMACPP_SRC ]] || tar xzf "$sdist" -C "$work"
  local missing=()
  for t in "$@"; do [[ -x $build/bin/$t ]] || missing+=("$t"); done
  ((${#missing[@]})) || return 0
  local examples=OFF
  for t in "${missing[@]}"; do [[ $t == llama-embedding ]] && examples=ON; done
  cmake -S "$LLAMACPP_SRC/vendor/llama.cpp" -B "$build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE="$native" \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES="$examples" -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF > "$build.configure.log"
  nice cmake --build "$build" --target "${missing[@]}" -j"${JOBS:-2}" > "$build.build.log"
}

# Our token ids of a GGUF's tokenizer (bench/peer/gguf_token_ids.cpp), built with g++ against include/ when missing
# or older than its sources. Sets GGUF_TOKEN_IDS.
gguf_token_ids_build() {
  local repo=$1 work=$2
  GGUF_TOKEN_IDS="$work/gguf_token_ids"
  if [[ ! -x $GGUF_TOKEN_IDS || $repo/bench/peer/gguf_token_ids.cpp -nt $GGUF_TOKEN_IDS ||
        -n $(find "$repo/include" -newer "$GGUF_TOKEN_IDS" -name '*.hpp' | head -1) ]]; then
    nice g++ -std=c++20 -O2 -I"$repo/include" -I/usr/include/eigen3 "$repo/bench/peer/gguf_token_ids.cpp" \
      -o "$GGUF_TOKEN_IDS" $(pkg-config --cflags --libs sentencepiece) -fopenmp
  fi
}
