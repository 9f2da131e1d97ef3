#!/usr/bin/env bash
# Install, upgrade or remove the Siaga Station (the control room's service) on Debian.
#
#   sudo deploy/install-station.sh              install or upgrade, start the station
#   sudo deploy/install-station.sh --uninstall  stop and remove it; keep config and archive
#
# Safe to run again. /etc/siaga-edge/station.toml is written only when there is none.
# The device's installer (install.sh) is a separate thing: a Pi never needs this one.
#
# Options:
#   --prefix DIR     install under DIR instead of / (implies --no-systemctl --no-users)
#   --no-systemctl   do not run systemctl
#   --no-users       do not create the siaga-station user
#   --no-venv        do not create the venv or pip-install the package (files only)
#   --python PATH    the interpreter for the venv (default: python3)
#   --uninstall      stop, disable and remove the unit, the venv and the docs;
#                    /etc/siaga-edge and /var/lib/siaga-station (the archive) are kept
#   -h, --help       this text
set -euo pipefail

readonly UNIT_NAME=siaga-station.service
readonly SERVICE_USER=siaga-station

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd -- "$SCRIPT_DIR/.." && pwd)
readonly SCRIPT_DIR REPO

root=/
use_systemctl=auto
use_users=auto
use_venv=yes
python=python3
action=install

say() { printf 'install-station.sh: %s\n' "$*"; }
die() {
    printf 'install-station.sh: error: %s\n' "$*" >&2
    exit 1
}
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

while (($#)); do
    case $1 in
        --prefix)
            (($# >= 2)) || die "--prefix needs a directory"
            root=$2
            shift
            ;;
        --python)
            (($# >= 2)) || die "--python needs a path"
            python=$2
            shift
            ;;
        --no-systemctl) use_systemctl=no ;;
        --no-users) use_users=no ;;
        --no-venv) use_venv=no ;;
        --uninstall) action=uninstall ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown option: $1 (see --help)" ;;
    esac
    shift
done

[[ -n $root ]] || die "--prefix must not be empty"
if [[ $root != / ]]; then
    mkdir -p -- "$root"
    root=$(cd -- "$root" && pwd)
fi
on_real_root() { [[ $root == / ]]; }
decide() {
    local setting=$1 tool=$2
    if [[ $setting == auto ]]; then
        if on_real_root && command -v "$tool" >/dev/null 2>&1; then setting=yes; else setting=no; fi
    fi
    printf '%s' "$setting"
}
use_systemctl=$(decide "$use_systemctl" systemctl)
use_users=$(decide "$use_users" useradd)
if [[ $use_systemctl == yes && ! -d /run/systemd/system ]]; then
    say "systemd is not running here: skipping systemctl"
    use_systemctl=no
fi
path() { if on_real_root; then printf '%s' "$1"; else printf '%s%s' "$root" "$1"; fi; }

readonly OPT=/opt/siaga-station
readonly VENV=$OPT/venv
readonly ETC=/etc/siaga-edge
readonly UNIT_FILE=/etc/systemd/system/$UNIT_NAME

if on_real_root && ((EUID != 0)); then
    die "run as root: sudo $0 $*"
fi
changed=no

put() {
    local src=$1 dest=$2 mode=$3
    if [[ -f $dest ]] && cmp -s -- "$src" "$dest" && [[ $(stat -c %a -- "$dest") == "${mode#0}" ]]; then
        return 1
    fi
    install -D -m "$mode" -- "$src" "$dest"
    say "installed $dest"
    return 0
}

user() {
    [[ $use_users == yes ]] || return 0
    if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --home-dir /var/lib/siaga-station \
            --shell /usr/sbin/nologin --comment "Siaga Station" "$SERVICE_USER"
        say "created system user $SERVICE_USER"
    fi
}

venv_and_package() {
    [[ $use_venv == yes ]] || return 0
    local venv
    venv=$(path "$VENV")
    if [[ ! -x $venv/bin/python ]]; then
        "$python" -m venv "$venv"
        say "created venv $venv"
    fi
    say "pip install $REPO[station]"
    PIP_ROOT_USER_ACTION=ignore "$venv/bin/python" -m pip install --no-input \
        --disable-pip-version-check --quiet "$REPO[station]"
    "$venv/bin/siaga-edge" --version >/dev/null ||
        die "the installed $venv/bin/siaga-edge does not run (see the error above)"
    changed=yes
}

files() {
    local etc config
    if put "$REPO/systemd/$UNIT_NAME" "$(path "$UNIT_FILE")" 0644; then changed=yes; fi
    put "$REPO/docs/station.md" "$(path "$OPT/docs/station.md")" 0644 || true
    etc=$(path "$ETC")
    [[ -d $etc ]] || install -d -m 0750 -- "$etc"
    config=$etc/station.toml
    if [[ -e $config ]]; then
        say "kept the existing $config"
    else
        install -m 0640 -- "$REPO/edge/data/station.example.toml" "$config"
        say "created $config from the example: edit it for this control room"
    fi
    if getent group "$SERVICE_USER" >/dev/null 2>&1 &&
        [[ $(stat -c %U:%G -- "$config") == root:root ]]; then
        chown root:"$SERVICE_USER" -- "$config"
    fi
}

start() {
    [[ $use_systemctl == yes ]] || {
        say "not running systemctl; then: systemctl daemon-reload && systemctl enable --now $UNIT_NAME"
        say "first operator: $VENV/bin/siaga-edge station user add NAME --role admin"
        return 0
    }
    systemctl daemon-reload
    systemctl enable --quiet "$UNIT_NAME"
    if systemctl is-active --quiet "$UNIT_NAME"; then
        [[ $changed == no ]] || systemctl restart "$UNIT_NAME"
    else
        systemctl start "$UNIT_NAME"
    fi
}

uninstall_all() {
    if [[ $use_systemctl == yes ]]; then
        systemctl disable --now --quiet "$UNIT_NAME" 2>/dev/null || true
    fi
    rm -f -- "$(path "$UNIT_FILE")"
    [[ $use_systemctl == yes ]] && systemctl daemon-reload
    rm -rf -- "$(path "$OPT")"
    say "removed the unit and $(path "$OPT"); kept $(path "$ETC") and $(path /var/lib/siaga-station)"
}

case $action in
    install)
        user
        venv_and_package
        files
        start
        say "done; logs: journalctl -u ${UNIT_NAME%.service} -f"
        ;;
    uninstall) uninstall_all ;;
esac
