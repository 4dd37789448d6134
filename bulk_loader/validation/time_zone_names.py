"""Names people give time zones, and the IANA zones they mean: common abbreviations, US
names as people write them, Windows zone ids and display names, Rails zone names.

A name is compared in any case, with dots, underscores and spacing ignored. A name that
the tables give several different clocks is not read at all (see `zones_named`).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from bulk_loader.validation.time_zone_clocks import same_clock

__all__ = ["ABBREVIATIONS", "COMMON_NAMES", "RAILS", "WINDOWS", "name_key", "zones_named"]


def name_key(text: str) -> str:
    """How names are compared: any case, dots, underscores and spacing ignored."""
    return " ".join(text.casefold().replace(".", " ").replace("_", " ").split())


def zones_named(text: str) -> tuple[str, ...]:
    """The IANA zones a name may mean: none, one, or several when sources disagree."""
    return _names().get(name_key(text), ())


# Each abbreviation's usual meaning in the exports this tool reads (North American CRMs
# first). IANA keys win over this table: EST, MST and HST are tzdata zones that keep
# UTC-5, UTC-7 and UTC-10 all year, and CET, EET, WET follow the EU's summer time.
# A standard-time abbreviation of a zone with summer time names that zone, summer
# included (PST is Los Angeles time, not UTC-8 all year), and so does the summer one.
ABBREVIATIONS = """
ET, EDT = America/New_York          # US Eastern
CT, CST, CDT = America/Chicago      # US Central (not China or Cuba Standard Time)
MT, MDT = America/Denver            # US Mountain (MST alone: tzdata's UTC-7 all year)
PT, PST, PDT = America/Los_Angeles  # US Pacific
AKST, AKDT = America/Anchorage      # Alaska
HDT, HAST, HADT = America/Adak      # Hawaii-Aleutian with summer time (HST: Honolulu)
AST, ADT = America/Halifax          # Atlantic (not Arabia Standard Time)
NST, NDT = America/St_Johns         # Newfoundland
SST = Pacific/Pago_Pago             # Samoa Standard Time
CHST = Pacific/Guam                 # Chamorro
BST = Europe/London                 # British Summer Time (not Bangladesh)
IST = Asia/Kolkata                  # India (not Irish or Israel Standard Time)
CEST, MEZ, MESZ = Europe/Berlin     # Central European (CET: the tzdata zone)
EEST = Europe/Athens                # Eastern European summer time (EET: tzdata zone)
WEST = Europe/Lisbon                # Western European summer time (WET: tzdata zone)
MSK = Europe/Moscow
WAT = Africa/Lagos                  # West Africa
CAT = Africa/Maputo                 # Central Africa
SAST = Africa/Johannesburg          # South Africa
EAT = Africa/Nairobi                # East Africa
IDT = Asia/Jerusalem                # Israel
TRT = Europe/Istanbul
GST = Asia/Dubai                    # Gulf (not South Georgia)
IRST, IRDT = Asia/Tehran
AFT = Asia/Kabul
PKT = Asia/Karachi
NPT = Asia/Kathmandu
MMT = Asia/Yangon                   # Myanmar
ICT = Asia/Bangkok                  # Indochina
WIB = Asia/Jakarta
SGT = Asia/Singapore
MYT = Asia/Kuala_Lumpur
HKT = Asia/Hong_Kong
PHT, PHST = Asia/Manila
CCT = Asia/Shanghai                 # China Coast
JST = Asia/Tokyo
KST = Asia/Seoul                    # South Korea
AWST = Australia/Perth
ACST, ACDT = Australia/Adelaide     # the South Australian clock, summer included
AEST, AEDT = Australia/Sydney       # the NSW/Victoria clock (Brisbane: write Brisbane)
NZST, NZDT = Pacific/Auckland
BRT = America/Sao_Paulo
ART = America/Argentina/Buenos_Aires
CLT, CLST = America/Santiago
COT = America/Bogota
PET = America/Lima
VET = America/Caracas
"""

# US names as people write them.
COMMON_NAMES = """
Eastern, Eastern Time, Eastern Standard Time = America/New_York
Central, Central Time = America/Chicago
Mountain, Mountain Time = America/Denver
Pacific, Pacific Time = America/Los_Angeles
Alaska Time, Hawaii Time = America/Anchorage, Pacific/Honolulu
"""

# CLDR windowsZones.xml, each Windows zone's territory-001 IANA zone, with its Windows
# display name ("(UTC-05:00) " taken off: a cell's prefix is checked against the zone).
# "X Daylight Time" is read like "X Standard Time" (.NET's daylight names).
WINDOWS = """
Dateline Standard Time | International Date Line West = Etc/GMT+12
Aleutian Standard Time | Aleutian Islands = America/Adak
Hawaiian Standard Time | Hawaii = Pacific/Honolulu
Marquesas Standard Time | Marquesas Islands = Pacific/Marquesas
Alaskan Standard Time | Alaska = America/Anchorage
Pacific Standard Time (Mexico) | Baja California = America/Tijuana
Pacific Standard Time | Pacific Time (US & Canada) = America/Los_Angeles
US Mountain Standard Time | Arizona = America/Phoenix
Mountain Standard Time (Mexico) | Chihuahua, La Paz, Mazatlan = America/Mazatlan
Mountain Standard Time | Mountain Time (US & Canada) = America/Denver
Yukon Standard Time | Yukon = America/Whitehorse
Central America Standard Time | Central America = America/Guatemala
Central Standard Time | Central Time (US & Canada) = America/Chicago
Easter Island Standard Time | Easter Island = Pacific/Easter
Central Standard Time (Mexico) | Guadalajara, Mexico City, Monterrey = America/Mexico_City
Canada Central Standard Time | Saskatchewan = America/Regina
SA Pacific Standard Time | Bogota, Lima, Quito, Rio Branco = America/Bogota
Eastern Standard Time (Mexico) | Chetumal = America/Cancun
Eastern Standard Time | Eastern Time (US & Canada) = America/New_York
Haiti Standard Time | Haiti = America/Port-au-Prince
Cuba Standard Time | Havana = America/Havana
US Eastern Standard Time | Indiana (East) = America/Indianapolis
Turks And Caicos Standard Time | Turks and Caicos = America/Grand_Turk
Paraguay Standard Time | Asuncion = America/Asuncion
Atlantic Standard Time | Atlantic Time (Canada) = America/Halifax
Venezuela Standard Time | Caracas = America/Caracas
Central Brazilian Standard Time | Cuiaba = America/Cuiaba
SA Western Standard Time | Georgetown, La Paz, Manaus, San Juan = America/La_Paz
Pacific SA Standard Time | Santiago = America/Santiago
Newfoundland Standard Time | Newfoundland = America/St_Johns
Tocantins Standard Time | Araguaina = America/Araguaina
E. South America Standard Time | Brasilia = America/Sao_Paulo
SA Eastern Standard Time | Cayenne, Fortaleza = America/Cayenne
Argentina Standard Time | City of Buenos Aires = America/Buenos_Aires
Greenland Standard Time | Greenland = America/Godthab
Montevideo Standard Time | Montevideo = America/Montevideo
Magallanes Standard Time | Punta Arenas = America/Punta_Arenas
Saint Pierre Standard Time | Saint Pierre and Miquelon = America/Miquelon
Bahia Standard Time | Salvador = America/Bahia
Azores Standard Time | Azores = Atlantic/Azores
Cape Verde Standard Time | Cabo Verde Is. = Atlantic/Cape_Verde
GMT Standard Time | Dublin, Edinburgh, Lisbon, London = Europe/London
Greenwich Standard Time | Monrovia, Reykjavik = Atlantic/Reykjavik
Sao Tome Standard Time | Sao Tome = Africa/Sao_Tome
Morocco Standard Time | Casablanca = Africa/Casablanca
W. Europe Standard Time | Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna = Europe/Berlin
Central Europe Standard Time | Belgrade, Bratislava, Budapest, Ljubljana, Prague = Europe/Budapest
Romance Standard Time | Brussels, Copenhagen, Madrid, Paris = Europe/Paris
Central European Standard Time | Sarajevo, Skopje, Warsaw, Zagreb = Europe/Warsaw
W. Central Africa Standard Time | West Central Africa = Africa/Lagos
Jordan Standard Time | Amman = Asia/Amman
GTB Standard Time | Athens, Bucharest = Europe/Bucharest
Middle East Standard Time | Beirut = Asia/Beirut
Egypt Standard Time | Cairo = Africa/Cairo
E. Europe Standard Time | Chisinau = Europe/Chisinau
Syria Standard Time | Damascus = Asia/Damascus
West Bank Standard Time | Gaza, Hebron = Asia/Hebron
South Africa Standard Time | Harare, Pretoria = Africa/Johannesburg
FLE Standard Time | Helsinki, Kyiv, Riga, Sofia, Tallinn, Vilnius = Europe/Kiev
Israel Standard Time | Jerusalem = Asia/Jerusalem
South Sudan Standard Time | Juba = Africa/Juba
Kaliningrad Standard Time | Kaliningrad = Europe/Kaliningrad
Sudan Standard Time | Khartoum = Africa/Khartoum
Libya Standard Time | Tripoli = Africa/Tripoli
Namibia Standard Time | Windhoek = Africa/Windhoek
Arabic Standard Time | Baghdad = Asia/Baghdad
Turkey Standard Time | Istanbul = Europe/Istanbul
Arab Standard Time | Kuwait, Riyadh = Asia/Riyadh
Belarus Standard Time | Minsk = Europe/Minsk
Russian Standard Time | Moscow, St. Petersburg = Europe/Moscow
E. Africa Standard Time | Nairobi = Africa/Nairobi
Iran Standard Time | Tehran = Asia/Tehran
Arabian Standard Time | Abu Dhabi, Muscat = Asia/Dubai
Astrakhan Standard Time | Astrakhan, Ulyanovsk = Europe/Astrakhan
Azerbaijan Standard Time | Baku = Asia/Baku
Russia Time Zone 3 | Izhevsk, Samara = Europe/Samara
Mauritius Standard Time | Port Louis = Indian/Mauritius
Saratov Standard Time | Saratov = Europe/Saratov
Georgian Standard Time | Tbilisi = Asia/Tbilisi
Volgograd Standard Time | Volgograd = Europe/Volgograd
Caucasus Standard Time | Yerevan = Asia/Yerevan
Afghanistan Standard Time | Kabul = Asia/Kabul
West Asia Standard Time | Ashgabat, Tashkent = Asia/Tashkent
Ekaterinburg Standard Time | Ekaterinburg = Asia/Yekaterinburg
Pakistan Standard Time | Islamabad, Karachi = Asia/Karachi
Qyzylorda Standard Time | Qyzylorda = Asia/Qyzylorda
India Standard Time | Chennai, Kolkata, Mumbai, New Delhi = Asia/Calcutta
Sri Lanka Standard Time | Sri Jayawardenepura = Asia/Colombo
Nepal Standard Time | Kathmandu = Asia/Katmandu
Central Asia Standard Time = Asia/Bishkek
Bangladesh Standard Time | Dhaka = Asia/Dhaka
Omsk Standard Time | Omsk = Asia/Omsk
Myanmar Standard Time | Yangon (Rangoon) = Asia/Rangoon
SE Asia Standard Time | Bangkok, Hanoi, Jakarta = Asia/Bangkok
Altai Standard Time | Barnaul, Gorno-Altaysk = Asia/Barnaul
W. Mongolia Standard Time | Hovd = Asia/Hovd
North Asia Standard Time | Krasnoyarsk = Asia/Krasnoyarsk
N. Central Asia Standard Time | Novosibirsk = Asia/Novosibirsk
Tomsk Standard Time | Tomsk = Asia/Tomsk
China Standard Time | Beijing, Chongqing, Hong Kong, Urumqi = Asia/Shanghai
North Asia East Standard Time | Irkutsk = Asia/Irkutsk
Singapore Standard Time | Kuala Lumpur, Singapore = Asia/Singapore
W. Australia Standard Time | Perth = Australia/Perth
Taipei Standard Time | Taipei = Asia/Taipei
Ulaanbaatar Standard Time | Ulaanbaatar = Asia/Ulaanbaatar
Aus Central W. Standard Time | Eucla = Australia/Eucla
Transbaikal Standard Time | Chita = Asia/Chita
Tokyo Standard Time | Osaka, Sapporo, Tokyo = Asia/Tokyo
North Korea Standard Time | Pyongyang = Asia/Pyongyang
Korea Standard Time | Seoul = Asia/Seoul
Yakutsk Standard Time | Yakutsk = Asia/Yakutsk
Cen. Australia Standard Time | Adelaide = Australia/Adelaide
AUS Central Standard Time | Darwin = Australia/Darwin
E. Australia Standard Time | Brisbane = Australia/Brisbane
AUS Eastern Standard Time | Canberra, Melbourne, Sydney = Australia/Sydney
West Pacific Standard Time | Guam, Port Moresby = Pacific/Port_Moresby
Tasmania Standard Time | Hobart = Australia/Hobart
Vladivostok Standard Time | Vladivostok = Asia/Vladivostok
Lord Howe Standard Time | Lord Howe Island = Australia/Lord_Howe
Bougainville Standard Time | Bougainville Island = Pacific/Bougainville
Russia Time Zone 10 | Chokurdakh = Asia/Srednekolymsk
Magadan Standard Time | Magadan = Asia/Magadan
Norfolk Standard Time | Norfolk Island = Pacific/Norfolk
Sakhalin Standard Time | Sakhalin = Asia/Sakhalin
Central Pacific Standard Time | Solomon Is., New Caledonia = Pacific/Guadalcanal
Russia Time Zone 11 | Anadyr, Petropavlovsk-Kamchatsky = Asia/Kamchatka
New Zealand Standard Time | Auckland, Wellington = Pacific/Auckland
Fiji Standard Time | Fiji = Pacific/Fiji
Chatham Islands Standard Time | Chatham Islands = Pacific/Chatham
Tonga Standard Time | Nuku'alofa = Pacific/Tongatapu
Samoa Standard Time | Samoa = Pacific/Apia
Line Islands Standard Time | Kiritimati Island = Pacific/Kiritimati
"""

# Rails' ActiveSupport::TimeZone::MAPPING: its names, e.g. "Eastern Time (US & Canada)",
# are those a Rails app exports. Where Windows already names the same place the same
# way, the first entry wins; "International Date Line West" is UTC-12 on Windows and
# UTC-11 (Pacific/Midway) in Rails, so it is read only with a "(UTC-12:00) " prefix or
# the like. "Astana" is read as the city's clock today (Asia/Almaty), not Rails' Dhaka.
RAILS = """
International Date Line West = Pacific/Midway
Midway Island = Pacific/Midway
American Samoa = Pacific/Pago_Pago
Alaska = America/Juneau
Tijuana = America/Tijuana
Chihuahua = America/Chihuahua
Mazatlan = America/Mazatlan
Guadalajara, Mexico City = America/Mexico_City
Monterrey = America/Monterrey
Bogota = America/Bogota
Lima, Quito = America/Lima
La Paz = America/La_Paz
Georgetown = America/Guyana
Puerto Rico = America/Puerto_Rico
Brasilia = America/Sao_Paulo
Buenos Aires = America/Argentina/Buenos_Aires
Mid-Atlantic = Atlantic/South_Georgia
Cape Verde Is. = Atlantic/Cape_Verde
Dublin = Europe/Dublin
Edinburgh, London = Europe/London
Lisbon = Europe/Lisbon
Monrovia = Africa/Monrovia
Belgrade = Europe/Belgrade
Bratislava = Europe/Bratislava
Budapest = Europe/Budapest
Ljubljana = Europe/Ljubljana
Prague = Europe/Prague
Sarajevo = Europe/Sarajevo
Skopje = Europe/Skopje
Warsaw = Europe/Warsaw
Zagreb = Europe/Zagreb
Brussels = Europe/Brussels
Copenhagen = Europe/Copenhagen
Madrid = Europe/Madrid
Paris = Europe/Paris
Amsterdam = Europe/Amsterdam
Berlin = Europe/Berlin
Bern, Zurich = Europe/Zurich
Rome = Europe/Rome
Stockholm = Europe/Stockholm
Vienna = Europe/Vienna
Bucharest = Europe/Bucharest
Helsinki = Europe/Helsinki
Kyiv = Europe/Kiev
Riga = Europe/Riga
Sofia = Europe/Sofia
Tallinn = Europe/Tallinn
Vilnius = Europe/Vilnius
Athens = Europe/Athens
Harare = Africa/Harare
Pretoria = Africa/Johannesburg
Moscow, St. Petersburg = Europe/Moscow
Samara = Europe/Samara
Kuwait = Asia/Kuwait
Riyadh = Asia/Riyadh
Abu Dhabi, Muscat = Asia/Muscat
Islamabad, Karachi = Asia/Karachi
Tashkent = Asia/Tashkent
Chennai, Kolkata, Mumbai, New Delhi = Asia/Kolkata
Astana = Asia/Almaty
Sri Jayawardenepura = Asia/Colombo
Almaty = Asia/Almaty
Rangoon = Asia/Rangoon
Bangkok, Hanoi = Asia/Bangkok
Jakarta = Asia/Jakarta
Beijing = Asia/Shanghai
Chongqing = Asia/Chongqing
Hong Kong = Asia/Hong_Kong
Urumqi = Asia/Urumqi
Kuala Lumpur = Asia/Kuala_Lumpur
Singapore = Asia/Singapore
Osaka, Sapporo, Tokyo = Asia/Tokyo
Canberra, Melbourne = Australia/Melbourne
Sydney = Australia/Sydney
Guam = Pacific/Guam
Port Moresby = Pacific/Port_Moresby
Srednekolymsk = Asia/Srednekolymsk
Solomon Is. = Pacific/Guadalcanal
New Caledonia = Pacific/Noumea
Kamchatka = Asia/Kamchatka
Marshall Is. = Pacific/Majuro
Auckland, Wellington = Pacific/Auckland
Tokelau Is. = Pacific/Fakaofo
Chatham Is. = Pacific/Chatham
"""


def _entries(table: str) -> Iterator[tuple[list[str], list[str]]]:
    """(names, zones) per line of "A, B = Zone" ("A | B = Zone" for Windows; zones may
    be a list matched one to one with the names)."""
    for line in table.splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        names, _, zones = line.rpartition("=")
        separator = "|" if "|" in names else ","
        yield [n.strip() for n in names.split(separator)], [z.strip() for z in zones.split(",")]


@cache
def _names() -> dict[str, tuple[str, ...]]:
    """Name key -> the IANA zones it may mean (one, unless sources disagree)."""
    found: dict[str, tuple[str, ...]] = {}

    def add(name: str, zone: str) -> None:
        key = name_key(name)
        zones = found.get(key, ())
        if zone not in zones and not any(same_clock(zone, other) for other in zones):
            found[key] = (*zones, zone)

    for table in (ABBREVIATIONS, COMMON_NAMES, WINDOWS, RAILS):
        for names, zones in _entries(table):
            for name, zone in zip(
                names, zones * len(names) if len(zones) == 1 else zones, strict=True
            ):
                add(name, zone)
                if table is WINDOWS and name.endswith(" Standard Time"):
                    add(name.replace(" Standard Time", " Daylight Time"), zone)
    return found
