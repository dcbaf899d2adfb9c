#!/usr/bin/env bash
# Bring up the "remote" Docker engine of the tests (issue 12 §1); idempotent, root only.
#
#   namespace envkit-rm on the cluster switch (envkit-sw), address 10.231.0.20
#   dockerd   unix:///run/envkit-cluster/rm.sock  and  tcp://10.231.0.20:2376 with TLS
#             (--tlsverify: the client must present a certificate signed by the test CA)
#   sshd      10.231.0.20:22, Debian's openssh-server, key login for root only; its sessions
#             get DOCKER_HOST=unix:///run/envkit-cluster/rm.sock, so `ssh ... docker system
#             dial-stdio` (the docker SDK's and CLI's ssh transport) reaches this engine
#
# Credentials, made here with openssl and ssh-keygen, in the private folder
# /run/envkit-cluster/remote (0700):
#   tls/client/{ca,cert,key}.pem        right CA, right client cert (a DOCKER_CERT_PATH)
#   tls/wrong-ca/{ca,cert,key}.pem      trusts a rogue CA: the client rejects the server
#   tls/wrong-client/{ca,cert,key}.pem  client cert from the rogue CA: the server rejects it
#   ssh/id_ed25519                      authorized for root
#   ssh/id_wrong_ed25519                not authorized
#   ssh/known_hosts                     the engine's real host key for 10.231.0.20
#   ssh/known_hosts.wrong               another host key for 10.231.0.20 (a "changed" host)
#   ssh/ssh_config                      for `ssh -F` (Host envkit-remote and 10.231.0.20)
#   home/.ssh/{config,known_hosts}      a HOME for the docker SDK's paramiko transport, which
#                                       reads only ~/.ssh/config and ~/.ssh/known_hosts
#   bin/ssh                             `ssh -F ssh/ssh_config`: put first on PATH for the
#                                       docker CLI and the SDK's use_ssh_client=True
# The namespace addresses are reachable only from the cluster's namespaces: tests connect from
# the switch namespace envkit-sw (10.231.0.1). Writes /run/envkit-cluster/remote.env.
set -euo pipefail
# shellcheck source=scripts/cluster-lib.sh
source "$(dirname "$0")/cluster-lib.sh"

need_root
need_tools ip nsenter setsid dockerd "$DOCKER" openssl ssh-keygen /usr/sbin/sshd
t0=$(now_ms)
R="$CLUSTER_RUN/remote"
ADDR=$(addr_of "$REMOTE")
mkdir -p "$CLUSTER_RUN" "$CLUSTER_LIB"
chmod 0755 "$CLUSTER_RUN"
ok=0
trap '[ $ok = 1 ] || { say "failed: tearing down the remote engine"; bash "$(dirname "$0")/remote-engine-down.sh" || true; }' EXIT

# --- credentials ----------------------------------------------------------------------------
make_ca() { # DIR NAME CN
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 7 \
        -keyout "$1/$2-key.pem" -out "$1/$2.pem" -subj "/CN=$3" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        2>/dev/null
}
make_cert() { # DIR NAME CN CA-NAME EXTENSIONS
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -keyout "$1/$2-key.pem" -out "$1/$2.csr" -subj "/CN=$3" 2>/dev/null
    printf '%b\n' "$5" >"$1/$2.ext"
    openssl x509 -req -in "$1/$2.csr" -CA "$1/$4.pem" -CAkey "$1/$4-key.pem" -CAcreateserial \
        -days 7 -out "$1/$2-cert.pem" -extfile "$1/$2.ext" 2>/dev/null
    rm -f "$1/$2.csr" "$1/$2.ext"
}
cert_dir() { # NAME CA CERT: a DOCKER_CERT_PATH-shaped folder
    mkdir -p "$R/tls/$1"
    cp "$R/pki/$2.pem" "$R/tls/$1/ca.pem"
    cp "$R/pki/$3-cert.pem" "$R/tls/$1/cert.pem"
    cp "$R/pki/$3-key.pem" "$R/tls/$1/key.pem"
}
if [ ! -s "$R/done" ]; then
    rm -rf "$R"
    mkdir -m 0700 -p "$R"
    mkdir -m 0700 -p "$R/pki" "$R/tls" "$R/ssh" "$R/home/.ssh" "$R/bin"
    (
        umask 077
        make_ca "$R/pki" ca "envkit test CA"
        make_ca "$R/pki" rogue-ca "envkit rogue CA"
        make_cert "$R/pki" server envkit-remote ca \
            "subjectAltName=IP:$ADDR,DNS:envkit-remote\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature"
        make_cert "$R/pki" client envkit-client ca \
            "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature"
        make_cert "$R/pki" rogue-client envkit-client rogue-ca \
            "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature"
        cert_dir client ca client
        cert_dir wrong-ca rogue-ca client
        cert_dir wrong-client ca rogue-client

        ssh-keygen -q -t ed25519 -N '' -C envkit-remote-host -f "$R/ssh/ssh_host_ed25519_key"
        ssh-keygen -q -t ed25519 -N '' -C envkit-rogue-host -f "$R/ssh/rogue_host_ed25519_key"
        ssh-keygen -q -t ed25519 -N '' -C envkit-test -f "$R/ssh/id_ed25519"
        ssh-keygen -q -t ed25519 -N '' -C envkit-wrong -f "$R/ssh/id_wrong_ed25519"
        cp "$R/ssh/id_ed25519.pub" "$R/ssh/authorized_keys"
        echo "$ADDR $(cut -d' ' -f1,2 "$R/ssh/ssh_host_ed25519_key.pub")" >"$R/ssh/known_hosts"
        echo "$ADDR $(cut -d' ' -f1,2 "$R/ssh/rogue_host_ed25519_key.pub")" >"$R/ssh/known_hosts.wrong"
        cat >"$R/ssh/ssh_config" <<EOF
Host envkit-remote $ADDR
    HostName $ADDR
    User root
    IdentityFile $R/ssh/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $R/ssh/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 5
EOF
        cat >"$R/home/.ssh/config" <<EOF
Host envkit-remote $ADDR
    HostName $ADDR
    User root
    IdentityFile $R/ssh/id_ed25519
EOF
        cp "$R/ssh/known_hosts" "$R/home/.ssh/known_hosts"
        printf '#!/bin/sh\nexec /usr/bin/ssh -F %s "$@"\n' "$R/ssh/ssh_config" >"$R/bin/ssh"
        chmod 0700 "$R/bin/ssh"

        cat >"$R/ssh/sshd_config" <<EOF
ListenAddress $ADDR:22
HostKey $R/ssh/ssh_host_ed25519_key
PidFile $R/ssh/sshd.pid
AuthorizedKeysFile $R/ssh/authorized_keys
AllowUsers root
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes yes
X11Forwarding no
PrintMotd no
SetEnv DOCKER_HOST=unix://$(sock_of "$REMOTE")
EOF
    )
    echo 1 >"$R/done"
fi

# --- namespace, engine, sshd ------------------------------------------------------------------
switch_up
node_net_up "$REMOTE"
dockerd_up "$REMOTE" -H "tcp://$ADDR:2376" --tlsverify --tlscacert "$R/pki/ca.pem" \
    --tlscert "$R/pki/server-cert.pem" --tlskey "$R/pki/server-key.pem"
dockerd_wait "$REMOTE"
rm -f "$CLUSTER_RUN/$REMOTE/images.tar"
image_load "$REMOTE" "$CLUSTER_RUN/$REMOTE/images.tar"

mkdir -p /run/sshd # sshd's privilege-separation folder (Debian's package makes it at boot)
if ! { [ -s "$R/ssh/sshd.pid" ] && kill -0 "$(cat "$R/ssh/sshd.pid")" 2>/dev/null; }; then
    /usr/sbin/sshd -t -f "$R/ssh/sshd_config" || die "sshd rejects $R/ssh/sshd_config"
    nsx "$(ns_of "$REMOTE")" /usr/sbin/sshd -f "$R/ssh/sshd_config" -E "$R/ssh/sshd.log"
fi
for _ in $(seq 50); do
    nsx "$SWITCH_NS" /usr/bin/ssh -F "$R/ssh/ssh_config" envkit-remote true 2>/dev/null && break
    sleep 0.1
done
nsx "$SWITCH_NS" /usr/bin/ssh -F "$R/ssh/ssh_config" envkit-remote \
    docker version --format '{{.Server.Version}}' >/dev/null ||
    die "no docker engine over ssh; see $R/ssh/sshd.log"

env_file="$CLUSTER_RUN/remote.env"
cat >"$env_file.tmp" <<EOF
# written by scripts/remote-engine-up.sh; read by tests/cluster/conftest.py
ENVKIT_REMOTE_ADDR=$ADDR
ENVKIT_REMOTE_NETNS=/run/netns/$(ns_of "$REMOTE")
ENVKIT_REMOTE_CLIENT_NETNS=/run/netns/$SWITCH_NS
ENVKIT_REMOTE_UNIX_HOST=unix://$(sock_of "$REMOTE")
ENVKIT_REMOTE_TLS_HOST=tcp://$ADDR:2376
ENVKIT_REMOTE_TLS_CERTS=$R/tls/client
ENVKIT_REMOTE_TLS_WRONG_CA=$R/tls/wrong-ca
ENVKIT_REMOTE_TLS_WRONG_CLIENT=$R/tls/wrong-client
ENVKIT_REMOTE_SSH_HOST=ssh://root@$ADDR
ENVKIT_REMOTE_SSH_KEY=$R/ssh/id_ed25519
ENVKIT_REMOTE_SSH_WRONG_KEY=$R/ssh/id_wrong_ed25519
ENVKIT_REMOTE_SSH_KNOWN_HOSTS=$R/ssh/known_hosts
ENVKIT_REMOTE_SSH_WRONG_KNOWN_HOSTS=$R/ssh/known_hosts.wrong
ENVKIT_REMOTE_SSH_CONFIG=$R/ssh/ssh_config
ENVKIT_REMOTE_SSH_HOME=$R/home
ENVKIT_REMOTE_SSH_BIN=$R/bin
ENVKIT_REMOTE_IMAGE=$TEST_IMAGE
EOF
mv "$env_file.tmp" "$env_file"
ok=1
say "remote engine up in $(($(now_ms) - t0)) ms: tcp://$ADDR:2376 (TLS), ssh://root@$ADDR; env: $env_file"
