"""The board's words, Bahasa Indonesia first (the control room's language), English beside.

``text(lang)`` gives one language's table; pages pass it to their templates and the board
script gets it as JSON. A key missing in one language falls back to the other, never to
an empty cell.
"""

from __future__ import annotations

LANGUAGES = ("id", "en")
COOKIE = "siaga_lang"

WORDS: dict[str, dict[str, str]] = {
    "board": {"id": "Papan", "en": "Board"},
    "history": {"id": "Riwayat", "en": "History"},
    "handover": {"id": "Serah terima", "en": "Handover"},
    "drills": {"id": "Latihan", "en": "Drills"},
    "logout": {"id": "Keluar", "en": "Log out"},
    "login": {"id": "Masuk", "en": "Log in"},
    "login_title": {"id": "Masuk ke papan operator", "en": "Log in to the operators' board"},
    "name": {"id": "Nama", "en": "Name"},
    "password": {"id": "Kata sandi", "en": "Password"},
    "login_wrong": {"id": "Nama atau kata sandi salah.", "en": "Wrong name or password."},
    "login_wait": {
        "id": "Terlalu banyak percobaan salah: tunggu {s} detik.",
        "en": "Too many wrong attempts: wait {s} seconds.",
    },
    "login_stale": {
        "id": "Formulir kedaluwarsa, silakan coba lagi.",
        "en": "The form expired, please try again.",
    },
    "queue": {"id": "Antrean alarm", "en": "Alarm queue"},
    "drill_panel": {"id": "Latihan dan uji jalan", "en": "Drills and walk tests"},
    "sites": {"id": "Lokasi", "en": "Sites"},
    "hazard": {"id": "Bahaya", "en": "Hazard"},
    "site": {"id": "Lokasi", "en": "Site"},
    "place": {"id": "Tempat", "en": "Place"},
    "sensor": {"id": "Sensor", "en": "Sensor"},
    "device": {"id": "Perangkat", "en": "Device"},
    "state": {"id": "Keadaan", "en": "State"},
    "stage": {"id": "Tahap", "en": "Stage"},
    "value": {"id": "Nilai", "en": "Value"},
    "first": {"id": "Pertama", "en": "First"},
    "last": {"id": "Terakhir", "en": "Last"},
    "ack": {"id": "Tanggapan", "en": "Ack"},
    "ack_none": {"id": "belum", "en": "none"},
    "ack_pending": {"id": "menunggu perangkat", "en": "pending"},
    "ack_confirmed": {"id": "terkonfirmasi", "en": "confirmed"},
    "ack_not_needed": {"id": "tidak perlu ditanggapi", "en": "no ack asked"},
    "acked_on_device": {"id": "(ditanggapi di perangkat)", "en": "(acknowledged on the device)"},
    "closed_at_drill_end": {"id": "ditutup saat latihan selesai", "en": "closed at drill end"},
    "state_alarm": {"id": "bahaya", "en": "alarm"},
    "state_warning": {"id": "waspada", "en": "warning"},
    "state_fault": {"id": "gangguan", "en": "fault"},
    "state_normal": {"id": "normal", "en": "normal"},
    "state_disabled": {"id": "nonaktif", "en": "disabled"},
    "state_starting": {"id": "memulai", "en": "starting"},
    "state_cleared": {"id": "pulih", "en": "cleared"},
    "state_heard again": {"id": "terdengar lagi", "en": "heard again"},
    "by": {"id": "oleh", "en": "by"},
    "acknowledge": {"id": "Tanggapi", "en": "Acknowledge"},
    "close": {"id": "Tutup", "en": "Close"},
    "note": {"id": "Catatan", "en": "Note"},
    "close_needs_note": {"id": "Penutupan perlu catatan.", "en": "Closing needs a note."},
    "status": {"id": "Status", "en": "Status"},
    "last_heard": {"id": "Terakhir terdengar", "en": "Last heard"},
    "online": {"id": "daring", "en": "online"},
    "offline": {"id": "luring", "en": "offline"},
    "silent": {"id": "senyap", "en": "silent"},
    "no_alarms": {"id": "Tidak ada alarm terbuka.", "en": "No open alarms."},
    "no_drills": {"id": "Tidak ada latihan berjalan.", "en": "No drill running."},
    "unacked": {"id": "belum ditanggapi", "en": "unacknowledged"},
    "open": {"id": "terbuka", "en": "open"},
    "lost_station": {
        "id": "KONEKSI KE STASIUN TERPUTUS sejak {t}: papan ini tidak terkini. Menyambung ulang…",
        "en": "CONNECTION TO THE STATION LOST since {t}: this board is not current. Reconnecting…",
    },
    "sound_on": {"id": "Suara aktif", "en": "Sound on"},
    "sound_blocked": {
        "id": "Suara diblokir peramban: klik di sini untuk mengaktifkan",
        "en": "Sound blocked by the browser: click here to enable",
    },
    "silence": {"id": "Senyapkan 10 menit", "en": "Silence 10 min"},
    "silenced": {"id": "Senyap", "en": "Silenced"},
    "unsilence": {"id": "Bunyikan lagi", "en": "Sound again"},
    "procedure": {"id": "Prosedur", "en": "Procedure"},
    "no_procedure": {
        "id": "Belum ada prosedur untuk bahaya ini di konfigurasi stasiun.",
        "en": "No procedure for this hazard in the station config.",
    },
    "timeline": {"id": "Kronologi", "en": "Timeline"},
    "actions": {"id": "Tindakan", "en": "Actions"},
    "closed": {"id": "ditutup", "en": "closed"},
    "search": {"id": "Cari", "en": "Search"},
    "since": {"id": "Sejak", "en": "Since"},
    "until": {"id": "Sampai", "en": "Until"},
    "any": {"id": "semua", "en": "any"},
    "drill": {"id": "Latihan", "en": "Drill"},
    "real": {"id": "nyata", "en": "real"},
    "events": {"id": "Kejadian", "en": "Events"},
    "alarms": {"id": "Alarm", "en": "Alarms"},
    "csv": {"id": "Ekspor CSV", "en": "Export CSV"},
    "print": {"id": "Cetak", "en": "Print"},
    "on_shift": {"id": "Yang bertugas", "en": "Who was on"},
    "ack_not_closed": {
        "id": "Sudah ditanggapi, belum ditutup",
        "en": "Acknowledged, not closed",
    },
    "closed_in_shift": {"id": "Ditutup selama giliran", "en": "Closed during the shift"},
    "silent_sites": {"id": "Lokasi senyap / luring", "en": "Silent / offline sites"},
    "notes": {"id": "Catatan giliran", "en": "Notes of the shift"},
    "add_note": {"id": "Tambah catatan serah terima", "en": "Add a handover note"},
    "drill_report": {"id": "Laporan latihan", "en": "Drill report"},
    "to_view": {"id": "sampai dilihat", "en": "to first view"},
    "to_ack": {"id": "sampai ditanggapi", "en": "to ack"},
    "to_confirm": {"id": "sampai dikonfirmasi perangkat", "en": "to device confirmation"},
    "to_close": {"id": "sampai ditutup", "en": "to close"},
    "median": {"id": "median", "en": "median"},
    "max": {"id": "maks", "en": "max"},
    "missed": {"id": "tidak ditanggapi", "en": "never acknowledged"},
    "started": {"id": "Mulai", "en": "Started"},
    "ended": {"id": "Selesai", "en": "Ended"},
    "running": {"id": "berjalan", "en": "running"},
    "report": {"id": "Laporan", "en": "Report"},
    "none": {"id": "tidak ada", "en": "none"},
    "seconds": {"id": "dtk", "en": "s"},
    "ended_by_drill": {"id": "ditutup akhir latihan", "en": "ended with the drill"},
    "view_how_board": {"id": "di papan", "en": "on the board"},
    "view_how_detail": {"id": "rincian dibuka", "en": "detail opened"},
    "view_how_ack": {"id": "saat ditanggapi", "en": "when acknowledged"},
    "view_how_close": {"id": "saat ditutup", "en": "when closed"},
    "marker": {"id": "Penanda", "en": "Marker"},
    "action_view": {"id": "dilihat", "en": "view"},
    "action_ack": {"id": "ditanggapi", "en": "ack"},
    "action_close": {"id": "ditutup", "en": "close"},
    "action_note": {"id": "catatan", "en": "note"},
    "action_login": {"id": "masuk", "en": "login"},
    "action_logout": {"id": "keluar", "en": "logout"},
    "receipt_recorded": {"id": "tanda terima: tercatat", "en": "receipt: recorded"},
    "receipt_refused": {"id": "tanda terima: ditolak", "en": "receipt: refused"},
    "reason_already acknowledged": {"id": "sudah ditanggapi", "en": "already acknowledged"},
    "reason_unknown event": {"id": "peristiwa tidak dikenal", "en": "unknown event"},
    "fire": {"id": "KEBAKARAN", "en": "FIRE"},
    "gas": {"id": "GAS", "en": "GAS"},
    "flood": {"id": "BANJIR", "en": "FLOOD"},
    "earthquake": {"id": "GEMPA", "en": "EARTHQUAKE"},
    "intrusion": {"id": "PENYUSUPAN", "en": "INTRUSION"},
    "tamper": {"id": "SABOTASE", "en": "TAMPER"},
    "hazard_device": {"id": "GANGGUAN", "en": "FAULT"},
    "silent_site": {"id": "LOKASI SENYAP", "en": "SITE SILENT"},
    "walk_test": {"id": "UJI JALAN", "en": "WALK TEST"},
    "user": {"id": "Operator", "en": "Operator"},
    "role_viewer": {"id": "pengamat", "en": "viewer"},
    "role_operator": {"id": "operator", "en": "operator"},
    "role_admin": {"id": "admin", "en": "admin"},
    "viewer_cannot": {
        "id": "Peran pengamat tidak dapat menanggapi atau menutup.",
        "en": "The viewer role cannot acknowledge or close.",
    },
    "detail": {"id": "Rincian", "en": "Detail"},
    "received": {"id": "Diterima", "en": "Received"},
    "message": {"id": "Pesan", "en": "Message"},
    "time": {"id": "Waktu", "en": "Time"},
    "what": {"id": "Apa", "en": "What"},
    "who": {"id": "Siapa", "en": "Who"},
}


def state_word(t: dict[str, str], state: str) -> str:
    """A sensor state in the page's language (a site alarm's reason is worded already)."""
    return t.get("state_" + state, state)


def action_word(t: dict[str, str], action: str) -> str:
    """An audited action (``ack``, ``close``, ``view``…) in the page's language."""
    return t.get("action_" + action, action)


def reason_word(t: dict[str, str], reason: str | None) -> str:
    """A device's own reason in a receipt (its words are English) in the page's language."""
    return t.get("reason_" + reason, reason) if reason else ""


def hazard_word(t: dict[str, str], hazard: str) -> str:
    return t["hazard_device"] if hazard == "device" else t.get(hazard, hazard)


def ack_text(t: dict[str, str], alarm: dict[str, object]) -> str:
    """The ack cell: its state and who, with the device's own words in the page's language."""
    how = alarm.get("acked_how")
    if how == "drill_end":
        return t["closed_at_drill_end"]
    if alarm.get("ack_needed") is False:
        return t["ack_not_needed"]
    ack = str(alarm.get("ack"))
    out = t.get("ack_" + ack, ack)
    if alarm.get("acked_by") and ack != "none":
        who = t["acked_on_device"] if how == "device" else str(alarm["acked_by"])
        out += f" {t['by']} {who}"
    return out


def ack_class(alarm: dict[str, object]) -> str:
    """Green only for what an operator took and the device confirmed."""
    return "ended" if alarm.get("acked_how") == "drill_end" else str(alarm.get("ack"))


def text(lang: str) -> dict[str, str]:
    other = "en" if lang == "id" else "id"
    return {key: words.get(lang) or words[other] for key, words in WORDS.items()}


def pick(value: str | None, default: str) -> str:
    return value if value in LANGUAGES else default
