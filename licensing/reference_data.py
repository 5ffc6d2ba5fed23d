"""Reference data installed by migration 0002: authorities, announcements, controlled items.

Sources are in shared/DOMAIN.md. Control codes that DOMAIN.md marks unverified, or does not
give, are installed with `code_verified=False` and a provisional code (CN-<announcement>-<element>)
that officers correct in the admin; nothing here is a constant the code relies on.
"""

import datetime as dt

D = dt.date.fromisoformat

AUTHORITIES = [
    {
        "code": "CN-MOFCOM",
        "name": "Ministry of Commerce of the People's Republic of China",
        "country": "CN",
        "review_period": 45,
        "review_period_unit": "working_days",
        "clock_start_event": "accepted",
        "calendar_country": "CN",
        "time_zone": "Asia/Shanghai",
        "amendment_review_period": 20,
        "legal_basis": "Regulations on Export Control of Dual-Use Items (State Council Order No. 792), Art. 17-18",
    },
    {
        "code": "US-BIS",
        "name": "U.S. Department of Commerce, Bureau of Industry and Security",
        "country": "US",
        "review_period": 90,
        "review_period_unit": "calendar_days",
        "clock_start_event": "submitted",
        "calendar_country": "US",
        "time_zone": "America/New_York",
        "amendment_review_period": None,
        "legal_basis": "Export Administration Regulations, 15 CFR part 750",
    },
]

# (number, title, published_on, effective_on, notes)
ANNOUNCEMENTS = [
    (
        "No. 23 [2023]",
        "Export control on gallium- and germanium-related items",
        "2023-07-03",
        "2023-08-01",
        "8 gallium items, 6 germanium items; HS codes in the announcement.",
    ),
    (
        "No. 39 [2023]",
        "Adjustment of export control on graphite items",
        "2023-10-20",
        "2023-12-01",
        "",
    ),
    (
        "No. 33 [2024]",
        "Export control on antimony and superhard materials",
        "2024-08-15",
        "2024-09-15",
        "",
    ),
    (
        "No. 46 [2024]",
        "Strengthened export control of dual-use items to the United States",
        None,
        None,
        "Published 2024-12. Clause 2 (Ga, Ge, Sb, superhard materials to the US 'in principle not approved') suspended 2025-11-09 until 2026-11-27.",
    ),
    (
        "No. 10 [2025]",
        "Export control on tungsten, tellurium, bismuth, molybdenum and indium items",
        "2025-02-04",
        "2025-02-04",
        "Tungsten 1C117.c/.d; other codes unverified.",
    ),
    (
        "No. 18 [2025]",
        "Export control on medium and heavy rare-earth items",
        "2025-04-04",
        "2025-04-04",
        "Sm 1C902, Gd 1C903, Tb 1C904, Dy 1C905; Lu, Sc, Y 1C906-1C908 unverified; magnets containing them.",
    ),
    (
        "Nos. 55-58, 61, 62 [2025]",
        "Export control on further rare earths, rare-earth equipment and technology, superhard materials, lithium-battery and graphite-anode items",
        "2025-10-09",
        "2025-10-09",
        "Includes the 0.1 % extraterritorial rule. Suspended by No. 70 [2025] (2025-11-07) until 2026-11-10.",
    ),
]

# (control_code, name, material_family, announcement, hs_codes, code_verified)
ITEMS = [
    ("CN-23-GA", "Gallium and gallium compounds", "gallium", "No. 23 [2023]", [], False),
    ("CN-23-GE", "Germanium and germanium compounds", "germanium", "No. 23 [2023]", [], False),
    (
        "CN-39-GR",
        "High-purity synthetic, flake and spherical graphite",
        "graphite",
        "No. 39 [2023]",
        [],
        False,
    ),
    (
        "CN-33-SB",
        "Antimony ores, metal, oxides and compounds",
        "antimony",
        "No. 33 [2024]",
        [],
        False,
    ),
    ("CN-33-SH", "Superhard materials and equipment", "superhard", "No. 33 [2024]", [], False),
    ("1C117.c", "Tungsten alloy and tungsten parts", "tungsten", "No. 10 [2025]", [], True),
    (
        "1C117.d",
        "Tungsten, tungsten carbide and tungsten alloy materials",
        "tungsten",
        "No. 10 [2025]",
        [],
        True,
    ),
    ("CN-10-TE", "Tellurium items", "tellurium", "No. 10 [2025]", [], False),
    ("CN-10-BI", "Bismuth items", "bismuth", "No. 10 [2025]", [], False),
    ("CN-10-MO", "Molybdenum items", "molybdenum", "No. 10 [2025]", [], False),
    ("CN-10-IN", "Indium items", "indium", "No. 10 [2025]", [], False),
    ("1C902", "Samarium and samarium compounds", "rare_earth", "No. 18 [2025]", [], True),
    ("1C903", "Gadolinium and gadolinium compounds", "rare_earth", "No. 18 [2025]", [], True),
    ("1C904", "Terbium and terbium compounds", "rare_earth", "No. 18 [2025]", [], True),
    ("1C905", "Dysprosium and dysprosium compounds", "rare_earth", "No. 18 [2025]", [], True),
    ("1C906", "Lutetium and lutetium compounds", "rare_earth", "No. 18 [2025]", [], False),
    ("1C907", "Scandium and scandium compounds", "rare_earth", "No. 18 [2025]", [], False),
    ("1C908", "Yttrium and yttrium compounds", "rare_earth", "No. 18 [2025]", [], False),
    (
        "CN-18-MAG",
        "Magnets containing samarium, gadolinium, terbium, dysprosium, lutetium, scandium or yttrium",
        "rare_earth_magnet",
        "No. 18 [2025]",
        [],
        False,
    ),
    (
        "CN-61-HO",
        "Holmium and holmium compounds",
        "rare_earth",
        "Nos. 55-58, 61, 62 [2025]",
        [],
        False,
    ),
    (
        "CN-61-ER",
        "Erbium and erbium compounds",
        "rare_earth",
        "Nos. 55-58, 61, 62 [2025]",
        [],
        False,
    ),
    (
        "CN-61-TM",
        "Thulium and thulium compounds",
        "rare_earth",
        "Nos. 55-58, 61, 62 [2025]",
        [],
        False,
    ),
    (
        "CN-61-EU",
        "Europium and europium compounds",
        "rare_earth",
        "Nos. 55-58, 61, 62 [2025]",
        [],
        False,
    ),
    (
        "CN-61-YB",
        "Ytterbium and ytterbium compounds",
        "rare_earth",
        "Nos. 55-58, 61, 62 [2025]",
        [],
        False,
    ),
    (
        "CN-56-REQ",
        "Rare-earth production equipment and materials",
        "rare_earth_technology",
        "Nos. 55-58, 61, 62 [2025]",
        [],
        False,
    ),
    (
        "1E902",
        "Rare-earth technology",
        "rare_earth_technology",
        "Nos. 55-58, 61, 62 [2025]",
        [],
        True,
    ),
    (
        "CN-58-LIB",
        "Lithium-battery and artificial-graphite-anode items",
        "lithium_battery",
        "Nos. 55-58, 61, 62 [2025]",
        [],
        False,
    ),
]

# Control periods per announcement: (starts_on, suspended_from, suspended_until, ends_on)
PERIODS = {
    "Nos. 55-58, 61, 62 [2025]": ("2025-10-09", "2025-11-07", "2026-11-10", None),
}


def install_reference_data(apps, schema_editor=None) -> None:
    """Create or update the reference rows; safe to run again (keyed by code and number)."""
    authority_model = apps.get_model("licensing", "LicensingAuthority")
    announcement_model = apps.get_model("licensing", "ControlAnnouncement")
    item_model = apps.get_model("licensing", "ControlledItem")
    period_model = apps.get_model("licensing", "ControlPeriod")

    authorities = {}
    for row in AUTHORITIES:
        fields = dict(row)
        code = fields.pop("code")
        authorities[code], _ = authority_model.objects.update_or_create(code=code, defaults=fields)
    mofcom = authorities["CN-MOFCOM"]

    announcements = {}
    for number, title, published, effective, notes in ANNOUNCEMENTS:
        announcements[number], _ = announcement_model.objects.update_or_create(
            authority=mofcom,
            number=number,
            defaults={
                "title": title,
                "published_on": D(published) if published else None,
                "effective_on": D(effective) if effective else None,
                "notes": notes,
            },
        )

    for code, name, family, number, hs_codes, verified in ITEMS:
        announcement = announcements[number]
        item, _ = item_model.objects.update_or_create(
            control_code=code,
            defaults={
                "name": name,
                "material_family": family,
                "authority": mofcom,
                "announcement": announcement,
                "hs_codes": hs_codes,
                "code_verified": verified,
            },
        )
        starts, suspended_from, suspended_until, ends = PERIODS.get(
            number, (announcement.effective_on.isoformat(), None, None, None)
        )
        period_model.objects.update_or_create(
            item=item,
            announcement=announcement,
            defaults={
                "starts_on": D(starts),
                "suspended_from": D(suspended_from) if suspended_from else None,
                "suspended_until": D(suspended_until) if suspended_until else None,
                "ends_on": D(ends) if ends else None,
            },
        )
