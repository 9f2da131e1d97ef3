#!/usr/bin/env bash
# Certificates for the control-room broker and the devices that talk to it (mutual TLS).
#
#   deploy/certs.sh [--host NAME]... [--days N] OUTDIR [SITE/DEVICE]...
#
#   deploy/certs.sh --host broker.polresta-banyuwangi.example /root/siaga-pki \
#       lapas-banyuwangi/pi-blok-a lapas-banyuwangi/pi-blok-b
#
# Makes, in OUTDIR, whatever is not there yet (running it again only adds new devices;
# nothing existing is ever replaced, the CA least of all):
#   ca.crt  ca.key                 the private CA. Keep ca.key OFFLINE (USB stick in a safe):
#                                  whoever holds it can mint identities the broker trusts.
#   broker/   ca.crt broker.crt broker.key    -> /etc/mosquitto/siaga/ on the broker host
#   controlroom/ ca.crt controlroom.crt controlroom.key   -> the control-room console
#   devices/SITE/DEVICE/ ca.crt device.crt device.key    -> /etc/siaga-edge/ on that Pi
#
# Identity convention (read by the broker's ACL, deploy/mosquitto/acl): the certificate's
# Common Name is the device's place in the topic tree, "SITE/DEVICE" (the config's site.id
# and site.device), so with use_identity_as_username the pattern siaga/v1/%u/... becomes
# exactly siaga/v1/SITE/DEVICE/... . The control room's CN is "controlroom".
#
# Options:
#   --host NAME   a DNS name (or IP address) the devices use to reach the broker; repeat for
#                 several. localhost and 127.0.0.1 are always included (for tests on the
#                 broker host itself).
#   --days N      validity of new certificates, default 3650. An expired certificate stops
#                 all delivery, silently from the site's point of view: note the date.
set -euo pipefail

days=3650
hosts=()
outdir=
devices=()
readonly SLUG='[a-z0-9]+(-[a-z0-9]+)*'

die() {
    printf 'certs.sh: error: %s\n' "$*" >&2
    exit 1
}
say() { printf 'certs.sh: %s\n' "$*"; }

while (($#)); do
    case $1 in
        --host)
            (($# >= 2)) || die "--host needs a name"
            hosts+=("$2")
            shift
            ;;
        --host=*) hosts+=("${1#--host=}") ;;
        --days)
            (($# >= 2)) || die "--days needs a number"
            days=$2
            shift
            ;;
        --days=*) days=${1#--days=} ;;
        -h | --help)
            sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
            exit 0
            ;;
        -*) die "unknown option: $1 (see --help)" ;;
        *)
            if [[ -z $outdir ]]; then outdir=$1; else devices+=("$1"); fi
            ;;
    esac
    shift
done

[[ -n $outdir ]] || die "usage: certs.sh [--host NAME]... [--days N] OUTDIR [SITE/DEVICE]..."
[[ $days =~ ^[1-9][0-9]*$ ]] || die "--days must be a whole number of days"
for device in "${devices[@]}"; do
    [[ $device =~ ^${SLUG}/${SLUG}$ ]] ||
        die "$device: name devices SITE/DEVICE, each [a-z0-9-] as in the config (e.g. lapas-banyuwangi/pi-blok-a)"
    [[ ${device%%/*} != controlroom ]] ||
        die "$device: the site id 'controlroom' is reserved for the control room's identity"
done
command -v openssl >/dev/null || die "openssl is not installed (apt-get install openssl)"

umask 077
mkdir -p -- "$outdir"
outdir=$(cd -- "$outdir" && pwd)
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# sign NAME CN EXTENSIONS KEY CRT: a certificate for KEY signed by the CA.
sign() {
    local cn=$1 extensions=$2 key=$3 crt=$4
    printf '%s\n' "$extensions" >"$work/ext.cnf"
    # '/' inside the CN is escaped for -subj (a device's CN is "site/device").
    openssl req -new -key "$key" -subj "/CN=${cn//\//\\/}" -out "$work/req.csr"
    openssl x509 -req -in "$work/req.csr" -CA "$outdir/ca.crt" -CAkey "$outdir/ca.key" \
        -CAcreateserial -days "$days" -sha256 -extfile "$work/ext.cnf" -out "$crt" 2>/dev/null
    chmod 0644 -- "$crt"
}

readonly LEAF='basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyAgreement
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always'

# ---- the CA
if [[ ! -f $outdir/ca.crt ]]; then
    [[ ! -f $outdir/ca.key ]] || die "$outdir/ca.key exists without ca.crt: refusing to guess"
    new_key "$outdir/ca.key"
    openssl req -new -x509 -key "$outdir/ca.key" -subj "/CN=Siaga Edge CA" -days "$days" \
        -sha256 -out "$outdir/ca.crt" \
        -addext "basicConstraints = critical, CA:TRUE, pathlen:0" \
        -addext "keyUsage = critical, keyCertSign, cRLSign" \
        -addext "subjectKeyIdentifier = hash"
    chmod 0644 -- "$outdir/ca.crt"
    say "made the CA: $outdir/ca.crt (keep ca.key offline)"
fi

# leaf KIND DIR BASENAME CN EXTRA-EXTENSIONS
leaf() {
    local kind=$1 dir=$2 base=$3 cn=$4 extra=$5
    mkdir -p -- "$dir"
    if [[ -f $dir/$base.crt ]]; then
        return 0
    fi
    new_key "$dir/$base.key"
    sign "$cn" "$LEAF
$extra" "$dir/$base.key" "$dir/$base.crt"
    cp -- "$outdir/ca.crt" "$dir/ca.crt"
    chmod 0644 -- "$dir/ca.crt"
    say "made the $kind certificate $dir/$base.crt (CN=$cn)"
}

# ---- the broker: every name the devices may use, plus loopback for local tests
san="DNS:localhost,IP:127.0.0.1,IP:::1"
for host in "${hosts[@]}"; do
    if [[ $host =~ ^[0-9.]+$ || $host == *:* ]]; then
        san+=",IP:$host"
    else
        san+=",DNS:$host"
    fi
done
leaf broker "$outdir/broker" broker "${hosts[0]:-localhost}" "extendedKeyUsage = serverAuth
subjectAltName = $san"

# ---- the control room
leaf "control-room" "$outdir/controlroom" controlroom controlroom "extendedKeyUsage = clientAuth"

# ---- one per device
for device in "${devices[@]}"; do
    leaf device "$outdir/devices/$device" device "$device" "extendedKeyUsage = clientAuth"
done

say "done. Valid until: $(openssl x509 -in "$outdir/ca.crt" -noout -enddate | cut -d= -f2) (CA)"
