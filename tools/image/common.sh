# Shared by tools/image/build and tools/image/smoke: where the image storage lives and how buildah
# and podman are called on a machine without a Docker engine. Sourced from the repository root.

IMAGE_VERSION=$(sed -n 's/^project(optimus_cpp VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
IMAGE_TAG=${OPTIMUS_IMAGE_TAG:-localhost/optimus:$IMAGE_VERSION}
IMAGE_DIR=${OPTIMUS_IMAGE_DIR:-$HOME/.cache/optimus-image}
IMAGE_DRIVER=${OPTIMUS_IMAGE_DRIVER:-overlay}
mkdir -p "$IMAGE_DIR"

ilog() { printf '\033[1mimage:\033[0m %s\n' "$*"; }
idie() { printf '\033[1mimage:\033[0m %s\n' "$*" >&2; exit 1; }

# Our own storage, so that nothing here touches (or depends on) the host's containers.
STORAGE_ARGS=(--root "$IMAGE_DIR/storage" --runroot "$IMAGE_DIR/run" --storage-driver "$IMAGE_DRIVER")
bah() { buildah "${STORAGE_ARGS[@]}" "$@"; }

# podman's defaults fail on these machines: crun may not set rlimits and the hybrid cgroup layout
# is refused. runc with explicit ulimits (nproc above 32768 is refused), cgroupfs and a file event
# log work; host or no networking avoids netavark.
pod() {
  local conf=$IMAGE_DIR/containers.conf hard
  if [ ! -s "$conf" ]; then
    hard=$(ulimit -Hn)
    cat >"$conf" <<EOF
[containers]
default_ulimits = ["nofile=$hard:$hard", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
  fi
  CONTAINERS_CONF=$conf podman "${STORAGE_ARGS[@]}" "$@"
}

# The mirror apt already uses (deb822 or one-line sources), for debootstrap.
apt_mirror() {
  local m
  m=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1)
  [ -n "$m" ] || m=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
                     awk '{print $2}' | grep -v security | head -1)
  echo "${m:-http://deb.debian.org/debian}"
}

image_install_tools() {
  local want=(buildah podman runc debootstrap) missing=() p
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} = 0 ] && return
  [ "$(id -u)" = 0 ] || idie "needs root (debootstrap, buildah's chroot isolation); missing: ${missing[*]}"
  ilog "installing ${missing[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}
