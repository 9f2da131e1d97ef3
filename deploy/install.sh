#!/usr/bin/env bash
# Install, upgrade or remove Siaga Edge on a Raspberry Pi (Raspberry Pi OS Bookworm/Trixie).
#
#   sudo deploy/install.sh              install or upgrade from this checkout
#   sudo deploy/install.sh --enable     the same, then enable and start the daemon
#   sudo deploy/install.sh --uninstall  stop and remove the program; keep config and data
#
# Safe to run again: what is already in place is left alone. The site's config
# (/etc/siaga-edge/config.toml) is written only when there is none, never overwritten.
#
# The daemon is enabled and started (or restarted on an upgrade) only on a config that
# is edited for the site and valid: never on the untouched example, whose pins would
# drive GPIO23, GPIO27 and GPIO22 as outputs on whatever is wired there. A first install
# therefore stops after copying the example and says what to do: edit it, run
# `siaga-edge check-config`, then `sudo deploy/install.sh --enable`.
#
# Options:
#   --prefix DIR     install under DIR instead of / (also: env SIAGA_ROOT); implies
#                    --no-systemctl --no-apt --no-users (for tests and image building)
#   --no-systemctl   do not run systemctl (daemon-reload, enable --now, restart)
#   --no-apt         do not apt-get install the system packages
#   --no-users       do not create the siaga user or the gpio/spi groups
#   --no-venv        do not create the venv or pip-install the package (files only)
#   --python PATH    the interpreter for the venv (default: python3)
#   --data-dir DIR   keep the outbox in DIR (a separate writable data partition, e.g.
#                    /data/siaga-edge under a read-only or overlay root): a unit drop-in
#                    makes DIR writable for the daemon and points storage.path there
#   --enable         enable and start the service; refused (exit 1) while the config is
#                    the untouched example or check-config refuses it
#   --uninstall      stop, disable and remove the unit, the venv and the command link;
#                    /etc/siaga-edge and /var/lib/siaga-edge (the outbox) are kept
#   -h, --help       this text
set -euo pipefail

readonly UNIT_NAME=siaga-edge.service
readonly JOURNALD_DROPIN=/etc/systemd/journald.conf.d/siaga-edge.conf
readonly WATCHDOG_DROPIN=/etc/systemd/system.conf.d/siaga-edge-watchdog.conf
readonly DATA_DROPIN=/etc/systemd/system/siaga-edge.service.d/data-dir.conf
readonly SERVICE_USER=siaga
readonly DEVICE_GROUPS=(gpio spi)
readonly APT_PACKAGES=(python3-venv python3-lgpio)

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd -- "$SCRIPT_DIR/.." && pwd)
readonly SCRIPT_DIR REPO

root=${SIAGA_ROOT:-/}
use_systemctl=auto
use_apt=auto
use_users=auto
use_venv=yes
python=python3
action=install
enable=no
data_dir=

say() { printf 'install.sh: %s\n' "$*"; }
die() {
    printf 'install.sh: error: %s\n' "$*" >&2
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
        --prefix=*) root=${1#--prefix=} ;;
        --python)
            (($# >= 2)) || die "--python needs a path"
            python=$2
            shift
            ;;
        --python=*) python=${1#--python=} ;;
        --data-dir)
            (($# >= 2)) || die "--data-dir needs a directory"
            data_dir=$2
            shift
            ;;
        --data-dir=*) data_dir=${1#--data-dir=} ;;
        --no-systemctl) use_systemctl=no ;;
        --no-apt) use_apt=no ;;
        --no-users) use_users=no ;;
        --no-venv) use_venv=no ;;
        --enable) enable=yes ;;
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
if [[ -n $data_dir && $data_dir != /* ]]; then
    die "--data-dir must be an absolute path (as seen on the device): $data_dir"
fi
if [[ $root != / ]]; then
    mkdir -p -- "$root"
    root=$(cd -- "$root" && pwd)
fi
# Inside a throwaway root there is no service manager, no package database and no
# /etc/passwd of the target to change: those steps are for the real system only.
on_real_root() { [[ $root == / ]]; }
decide() { # decide SETTING COMMAND: "auto" becomes yes where it applies and the tool exists
    local setting=$1 tool=$2
    if [[ $setting == auto ]]; then
        if on_real_root && command -v "$tool" >/dev/null 2>&1; then
            setting=yes
        else
            setting=no
        fi
    fi
    printf '%s' "$setting"
}
use_systemctl=$(decide "$use_systemctl" systemctl)
use_apt=$(decide "$use_apt" apt-get)
use_users=$(decide "$use_users" useradd)
if [[ $use_systemctl == yes && ! -d /run/systemd/system ]]; then
    say "systemd is not running here: skipping systemctl"
    use_systemctl=no
fi

path() { # path /etc/x -> the same path under the chosen root
    if on_real_root; then printf '%s' "$1"; else printf '%s%s' "$root" "$1"; fi
}

readonly OPT=/opt/siaga-edge
readonly VENV=$OPT/venv
readonly ETC=/etc/siaga-edge
readonly UNIT_FILE=/etc/systemd/system/$UNIT_NAME
readonly LINK=/usr/local/bin/siaga-edge

if on_real_root && ((EUID != 0)); then
    die "run as root: sudo $0 $*"
fi

changed=no # did this run change what the running daemon uses (restart needed)?

# ------------------------------------------------------------------ helpers

# put SRC DEST MODE: install a file only if its content or mode differs.
put() {
    local src=$1 dest=$2 mode=$3
    if [[ -f $dest ]] && cmp -s -- "$src" "$dest" && [[ $(stat -c %a -- "$dest") == "${mode#0}" ]]; then
        return 1
    fi
    install -D -m "$mode" -- "$src" "$dest"
    say "installed $dest"
    return 0
}

group_exists() { getent group "$1" >/dev/null 2>&1; }

# ------------------------------------------------------------------ install steps

apt_packages() {
    [[ $use_apt == yes ]] || return 0
    local wanted=() pkg
    for pkg in "${APT_PACKAGES[@]}"; do
        if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            continue
        fi
        if ! apt-cache policy "$pkg" 2>/dev/null | grep -q '^ *Candidate: [^(]'; then
            say "apt has no $pkg here: skipping it"
            continue
        fi
        wanted+=("$pkg")
    done
    ((${#wanted[@]})) || return 0
    say "apt-get install ${wanted[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${wanted[@]}"
}

users_and_groups() {
    [[ $use_users == yes ]] || return 0
    local group
    for group in "${DEVICE_GROUPS[@]}"; do
        if ! group_exists "$group"; then
            groupadd --system "$group"
            say "created group $group"
        fi
    done
    if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --home-dir /var/lib/siaga-edge \
            --shell /usr/sbin/nologin --comment "Siaga Edge daemon" "$SERVICE_USER"
        say "created system user $SERVICE_USER"
    fi
    for group in "${DEVICE_GROUPS[@]}"; do
        if ! id -nG "$SERVICE_USER" | tr ' ' '\n' | grep -qx "$group"; then
            usermod -a -G "$group" "$SERVICE_USER"
            say "added $SERVICE_USER to group $group"
        fi
    done
}

python_version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }

# A fingerprint of the source being installed: pip runs only when it differs from the last
# successful install, so a second run is a no-op and an edited checkout is an upgrade.
source_fingerprint() {
    (
        cd -- "$REPO"
        local inputs=(edge pyproject.toml)
        if [[ -f README.md ]]; then inputs+=(README.md); fi
        find "${inputs[@]}" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 |
            sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
    )
}

venv_and_package() {
    [[ $use_venv == yes ]] || return 0
    local venv want have stamp fingerprint version
    venv=$(path "$VENV")
    want=$(python_version "$python") || die "$python does not run"
    [[ $(printf '%s\n' "$want" 3.11 | sort -V | head -n1) == 3.11 ]] ||
        die "$python is Python $want; Siaga Edge needs 3.11 or newer"
    have=$(python_version "$venv/bin/python" || true)
    if [[ -n $have && $have != "$want" ]]; then
        # A distribution upgrade (Bookworm 3.11 -> Trixie 3.13) leaves a venv that no longer
        # runs: build it again.
        say "venv is Python $have, $python is $want: recreating it"
        rm -rf -- "$venv"
        have=
    fi
    if [[ -z $have ]]; then
        rm -rf -- "$venv"
        # --system-site-packages: the distribution's python3-lgpio (GPIO on Bookworm) is a C
        # extension built for the Pi; pip cannot build it here.
        "$python" -m venv --system-site-packages "$venv"
        say "created venv $venv (Python $want)"
        changed=yes
    fi
    stamp=$venv/.siaga-edge-source
    fingerprint=$(source_fingerprint)
    if [[ -f $stamp && $(<"$stamp") == "$fingerprint" ]]; then
        return 0
    fi
    say "pip install $REPO"
    PIP_ROOT_USER_ACTION=ignore "$venv/bin/python" -m pip install --no-input \
        --disable-pip-version-check --quiet "$REPO"
    # A package that installs but does not run must fail the install, loudly, and be
    # retried by the next run (no stamp written).
    version=$("$venv/bin/siaga-edge" --version) ||
        die "the installed $venv/bin/siaga-edge does not run (see the error above)"
    printf '%s\n' "$fingerprint" >"$stamp"
    say "installed $version into $venv"
    changed=yes
}

files() {
    local etc config link target
    if put "$REPO/systemd/$UNIT_NAME" "$(path "$UNIT_FILE")" 0644; then changed=yes; fi
    put "$REPO/docs/operations.md" "$(path "$OPT/docs/operations.md")" 0644 || true

    # The card's other writer and the hardware watchdog (docs/operations.md).
    put "$REPO/deploy/systemd/journald-siaga.conf" "$(path "$JOURNALD_DROPIN")" 0644 || true
    put "$REPO/deploy/systemd/watchdog-siaga.conf" "$(path "$WATCHDOG_DROPIN")" 0644 || true
    if [[ -n $data_dir ]]; then
        data_partition
    fi

    etc=$(path "$ETC")
    if [[ ! -d $etc ]]; then
        install -d -m 0750 -- "$etc"
        say "created $etc"
    fi
    config=$etc/config.toml
    if [[ -e $config ]]; then
        say "kept the existing $config"
    else
        install -m 0640 -- "$REPO/edge/data/config.example.toml" "$config"
        say "created $config from the example: edit it for this site"
    fi
    # The daemon (group siaga) reads the config; nobody else may (it names key files).
    if group_exists "$SERVICE_USER"; then
        chown root:"$SERVICE_USER" -- "$etc"
        if [[ $(stat -c %U:%G -- "$config") == root:root ]]; then
            chown root:"$SERVICE_USER" -- "$config"
        fi
    else
        say "no group $SERVICE_USER here: $etc stays owned by $(stat -c %U:%G -- "$etc")"
    fi

    link=$(path "$LINK")
    target=$VENV/bin/siaga-edge # the path as seen on the installed system
    if [[ $use_venv == yes && $(readlink -- "$link" || true) != "$target" ]]; then
        mkdir -p -- "$(dirname -- "$link")"
        ln -sfn -- "$target" "$link"
        say "linked $link -> $target"
    fi
}

# data_partition: the outbox on a writable data partition under a read-only root. The
# unit stays as shipped; a drop-in adds the directory to the sandbox's writable paths and
# sets storage.path through the environment (it wins over the config file).
data_partition() {
    local dir dropin tmp
    dir=$(path "$data_dir")
    if [[ ! -d $dir ]]; then
        install -d -m 0750 -- "$dir"
        say "created $dir"
    fi
    if id -u "$SERVICE_USER" >/dev/null 2>&1; then
        chown "$SERVICE_USER:$SERVICE_USER" -- "$dir"
    fi
    if on_real_root && command -v findmnt >/dev/null 2>&1; then
        say "outbox directory $data_dir is on $(findmnt -n -o FSTYPE,SOURCE --target "$data_dir" || echo '?')"
    fi
    dropin=$(path "$DATA_DROPIN")
    tmp=$(mktemp)
    {
        printf '# Written by deploy/install.sh --data-dir: the outbox on a data partition.\n'
        printf '[Service]\nReadWritePaths=%s\n' "$data_dir"
        printf 'Environment=SIAGA_STORAGE__PATH=%s/outbox.sqlite3\n' "$data_dir"
    } >"$tmp"
    if put "$tmp" "$dropin" 0644; then changed=yes; fi
    rm -f -- "$tmp"
}

# config_ready: whether the site's config may run; if not, why (in $why).
why=
config_ready() {
    local config checker output
    config=$(path "$ETC")/config.toml
    if cmp -s -- "$config" "$REPO/edge/data/config.example.toml"; then
        why="$config is still the shipped example (its pins drive GPIO23, GPIO27 and GPIO22 as outputs)"
        return 1
    fi
    checker=$(path "$VENV")/bin/siaga-edge
    if [[ ! -x $checker ]]; then
        checker=$(command -v siaga-edge || true)
    fi
    if [[ -z $checker ]]; then
        why="there is no siaga-edge to check $config with"
        return 1
    fi
    if ! output=$("$checker" check-config --quiet -c "$config" 2>&1); then
        why="siaga-edge check-config refuses $config:"$'\n'"$output"
        return 1
    fi
    return 0
}

start() {
    if ! config_ready; then
        say "not starting $UNIT_NAME: $why"
        say "next: edit $(path "$ETC")/config.toml for this site, check it with"
        say "  siaga-edge check-config -c $ETC/config.toml"
        say "then enable the daemon with: sudo $0 --enable"
        [[ $enable == no ]] || die "not enabled: $why"
        return 0
    fi
    say "config checked: $(path "$ETC")/config.toml is edited and valid"
    [[ $use_systemctl == yes ]] || {
        say "not running systemctl; on the device: systemctl daemon-reload && systemctl enable --now $UNIT_NAME"
        return 0
    }
    if [[ $enable == no ]] && ! systemctl is-enabled --quiet "$UNIT_NAME" 2>/dev/null; then
        systemctl daemon-reload
        say "the service is not enabled yet: sudo $0 --enable"
        return 0
    fi
    systemctl daemon-reload
    systemctl enable --quiet "$UNIT_NAME"
    if systemctl is-active --quiet "$UNIT_NAME"; then
        if [[ $changed == yes ]]; then
            systemctl restart "$UNIT_NAME"
            say "restarted $UNIT_NAME on the new version"
        fi
    else
        systemctl start "$UNIT_NAME"
        say "started $UNIT_NAME"
    fi
    systemctl --no-pager --lines=0 status "$UNIT_NAME" || true
}

install_all() {
    [[ -f $REPO/systemd/$UNIT_NAME && -f $REPO/edge/data/config.example.toml ]] ||
        die "$REPO is not a Siaga Edge checkout"
    apt_packages
    users_and_groups
    venv_and_package
    files
    start
    say "done; logs: journalctl -u ${UNIT_NAME%.service} -f"
}

# ------------------------------------------------------------------ uninstall

uninstall_all() {
    local unit
    unit=$(path "$UNIT_FILE")
    if [[ $use_systemctl == yes ]]; then
        systemctl disable --now --quiet "$UNIT_NAME" 2>/dev/null || true
    fi
    local file
    for file in "$unit" "$(path "$DATA_DROPIN")" "$(path "$JOURNALD_DROPIN")" \
        "$(path "$WATCHDOG_DROPIN")"; do
        if [[ -e $file ]]; then
            rm -f -- "$file"
            say "removed $file"
        fi
    done
    if [[ $use_systemctl == yes ]]; then
        systemctl daemon-reload
        systemctl reset-failed "$UNIT_NAME" 2>/dev/null || true
    fi
    if [[ -L $(path "$LINK") ]]; then
        rm -f -- "$(path "$LINK")"
        say "removed $(path "$LINK")"
    fi
    if [[ -e $(path "$OPT") ]]; then
        rm -rf -- "$(path "$OPT")"
        say "removed $(path "$OPT")"
    fi
    say "kept $(path "$ETC") (config, certificates) and $(path /var/lib/siaga-edge) (the outbox)"
    say "to erase them too: rm -rf $(path "$ETC") $(path /var/lib/siaga-edge); userdel $SERVICE_USER"
}

case $action in
    install) install_all ;;
    uninstall) uninstall_all ;;
    *) die "unknown action $action" ;;
esac
