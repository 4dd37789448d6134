"""What a template can map a column to: Kartra's lead fields, custom field types, actions.

The vocabulary both the template checker (mapping.py) and `template init` (starter.py)
speak; it imports nothing, so neither of them needs the other.
"""

from __future__ import annotations

__all__ = [
    "ACTIONS",
    "ADDRESS_FORMATS",
    "CHOICE_TYPES",
    "CUSTOM_FIELD_TYPES",
    "DEFAULT_SEPARATOR",
    "KARTRA_FIELDS",
    "NAME_ACTIONS",
    "SPLITS",
    "SYNONYMS",
    "TEXT_TYPES",
    "TRANSFORMS",
]

# Every field that create_lead or edit_lead accepts (Kartra's lead API reference).
KARTRA_FIELDS: tuple[str, ...] = (
    "email", "id", "new_email", "phone", "phone_country_code", "first_name", "middle_name",
    "last_name", "last_name2", "ip", "address", "zip", "city", "state", "country", "company",
    "lead_picture", "website", "facebook", "twitter", "linkedin", "lead_preferred_time_zone",
    "sales_tax_id", "business_type",
)  # fmt: skip
CUSTOM_FIELD_TYPES = ("input_field", "text_area", "drop_down", "radio_button", "checkbox")
CHOICE_TYPES = ("drop_down", "radio_button", "checkbox")
TEXT_TYPES = ("input_field", "text_area")
# Columns whose cells name tags or lists to add the lead to (or take it off), several per
# cell: assign_tag, unassign_tag, subscribe_lead_to_list, unsubscribe_lead_from_list.
NAME_ACTIONS = ("tags", "remove_tags", "lists", "remove_lists")
# Every [actions] key: the names above, then points (+n given, -n taken) and a sequence
# (subscribe_lead_to_sequence_at_step), all chained into the row's one call.
ACTIONS = (*NAME_ACTIONS, "points", "sequence")
DEFAULT_SEPARATOR = ";"  # Kartra's own CSV import separates tags and lists with semicolons
# Value transforms a field may ask for (`phone = { column = "...", transform = "phone" }`),
# each with the one field it fits (validation/transforms.py does them).
TRANSFORMS = {"phone": "phone", "country": "country"}
# One column split into several fields (`[split.name] column = "..."`): the fields each fills.
SPLITS = {
    "name": ("first_name", "last_name"),
    "address": ("address", "city", "state", "zip", "country"),
}
# How a split address column is laid out: Mailchimp's one cell, parts two spaces apart.
ADDRESS_FORMATS = ("mailchimp",)


# Normalised header (lower case, letters and digits only) -> Kartra field or action.
SYNONYMS: dict[str, str] = {
    **{name.replace("_", ""): name for name in KARTRA_FIELDS},
    "mail": "email", "emailaddress": "email", "emailadress": "email", "email1": "email",
    "leadid": "id", "kartraid": "id", "contactid": "id",
    "newemailaddress": "new_email", "changeemailto": "new_email",
    "phonenumber": "phone", "mobile": "phone", "mobilephone": "phone", "cell": "phone",
    "cellphone": "phone", "telephone": "phone", "tel": "phone", "phoneno": "phone",
    "countrycode": "phone_country_code", "dialcode": "phone_country_code",
    "callingcode": "phone_country_code", "phonecode": "phone_country_code",
    "firstname": "first_name", "givenname": "first_name", "forename": "first_name",
    "first": "first_name", "fname": "first_name",
    "middle": "middle_name", "middleinitial": "middle_name",
    "lastname": "last_name", "surname": "last_name", "familyname": "last_name",
    "last": "last_name", "lname": "last_name", "secondlastname": "last_name2",
    "ipaddress": "ip", "streetaddress": "address", "street": "address", "address1": "address",
    "zipcode": "zip", "postcode": "zip", "postalcode": "zip", "postal": "zip",
    "town": "city", "province": "state", "region": "state", "county": "state",
    "countryname": "country", "company": "company", "companyname": "company",
    "organisation": "company", "organization": "company", "employer": "company",
    "photo": "lead_picture", "picture": "lead_picture", "avatar": "lead_picture",
    "image": "lead_picture", "photourl": "lead_picture", "url": "website", "web": "website",
    "homepage": "website", "site": "website", "websiteurl": "website",
    "timezone": "lead_preferred_time_zone", "tz": "lead_preferred_time_zone",
    "preferredtimezone": "lead_preferred_time_zone", "vatid": "sales_tax_id",
    "vatnumber": "sales_tax_id", "taxid": "sales_tax_id", "salestaxid": "sales_tax_id",
    "linkedinurl": "linkedin", "facebookurl": "facebook", "twitterhandle": "twitter",
    "x": "twitter", "tags": "tags", "tag": "tags", "lists": "lists", "list": "lists",
    "mailinglists": "lists", "mailinglist": "lists", "addtags": "tags", "addtag": "tags",
    "joinlists": "lists", "addlists": "lists", "subscribeto": "lists",
    "removetags": "remove_tags", "removetag": "remove_tags", "untag": "remove_tags",
    "tagstoremove": "remove_tags", "leavelists": "remove_lists", "leavelist": "remove_lists",
    "removelists": "remove_lists", "unsubscribefrom": "remove_lists",
    "points": "points", "addpoints": "points", "pointstoadd": "points",
    "sequence": "sequence", "sequencename": "sequence", "startsequence": "sequence",
    "step": "sequence_step", "sequencestep": "sequence_step", "startatstep": "sequence_step",
}  # fmt: skip
