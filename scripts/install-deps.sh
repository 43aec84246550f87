#!/usr/bin/env bash
# Installs every Debian 12 package that building, testing and demoing runguard needs.
# Idempotent: packages already present are not reinstalled, and apt is not touched at all
# when nothing is missing. This is the one place dependencies are named.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config git
  clang-14 libclang-rt-14-dev
  # libraries
  libseccomp-dev libcap-ng-dev nlohmann-json3-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  libssl-dev rapidjson-dev
  # the node agent (runguardd) and runguardctl: gRPC + protobuf, C++ code generated at build time
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  # tests and benchmarks
  googletest libgtest-dev libgmock-dev libbenchmark-dev hyperfine python3
  # certificates for the Vault stand-in's TLS (and attestation test keys)
  openssl
  # runtime under test and the container payload
  runc busybox-static
  # the engines the integration tests drive: containerd (ctr, and CRI through a gRPC client with
  # CNI's loopback plugin), podman
  containerd containernetworking-plugins podman iproute2 util-linux
  python3-grpcio python3-protobuf protobuf-compiler
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (or install them yourself)" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
