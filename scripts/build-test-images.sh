#!/bin/sh
# Build the images the engine tests use, locally (there is no registry on these machines).
#
#   envkit-test/busybox:latest   FROM scratch + Debian's static /bin/busybox, every applet
#                                installed as a symlink (sh, sleep, nc, httpd, wget, cat, ...)
#
# Skips a build when the image already carries the same content label (a digest of the
# busybox binary and the Dockerfile), so repeated CI runs cost one `docker image inspect`.
set -eu

DOCKER="${DOCKER:-/usr/bin/docker}"
[ -x "$DOCKER" ] || DOCKER="$(command -v docker)"
BUSYBOX="${ENVKIT_BUSYBOX:-/bin/busybox}"
IMAGE="envkit-test/busybox:latest"

say() { echo "build-test-images: $*" >&2; }

if [ ! -x "$BUSYBOX" ]; then
    say "$BUSYBOX not found; install Debian's busybox-static (apt-get install -y busybox-static)"
    exit 1
fi

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT INT TERM

cp "$BUSYBOX" "$ctx/busybox"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$ctx/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$ctx/group"
cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY busybox /bin/busybox
COPY passwd group /etc/
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && mkdir -p /tmp /var/www /root /usr/bin /sbin /usr/sbin && chmod 1777 /tmp"]
ENV PATH=/bin:/usr/bin:/sbin:/usr/sbin
CMD ["sleep", "86400"]
DOCKERFILE

content="$(cat "$ctx/busybox" "$ctx/passwd" "$ctx/group" "$ctx/Dockerfile" | sha256sum | cut -c1-32)"
have="$("$DOCKER" image inspect --format '{{ index .Config.Labels "io.envkit.test.content" }}' "$IMAGE" 2>/dev/null || true)"
if [ "$have" = "$content" ]; then
    say "$IMAGE is up to date ($content)"
    exit 0
fi

echo "LABEL io.envkit.test.content=$content" >>"$ctx/Dockerfile"
say "building $IMAGE ($content)"
# The legacy builder needs no buildx plugin and no registry.
DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$IMAGE" "$ctx" >/dev/null
say "built $IMAGE"
