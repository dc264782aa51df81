// Swedish identifier shapes. Check digits (Luhn) and the kommun list are checked by the
// validator's named rules; these invariants give the shape.

Invariant: lus-id-1
Description: "A patient identifier in a notice is a personnummer, samordningsnummer or nationellt reservnummer"
Severity: #error
Expression: "system = 'http://electronichealth.se/identifier/personnummer' or system = 'http://electronichealth.se/identifier/samordningsnummer' or system = 'http://electronichealth.se/identifier/nationelltReservnummer'"

Invariant: lus-pnr-1
Description: "A personnummer or samordningsnummer is stored as 12 digits (YYYYMMDDNNNC)"
Severity: #error
Expression: "matches('^[0-9]{12}$')"

Invariant: lus-pat-1
Description: "The patient has a personnummer, samordningsnummer or nationellt reservnummer"
Severity: #error
Expression: "identifier.where(system = 'http://electronichealth.se/identifier/personnummer' or system = 'http://electronichealth.se/identifier/samordningsnummer' or system = 'http://electronichealth.se/identifier/nationelltReservnummer').exists()"

Invariant: lus-pat-2
Description: "A registered address (folkbokföringsadress) names its municipality (kommunkod)"
Severity: #error
Expression: "address.where(extension('http://hl7.se/fhir/ig/base/StructureDefinition/SEBaseAddressPersonExtension').value.coding.where(system = 'http://snomed.info/sct' and code = '63381000052101').exists()).all(extension('https://lus.example.se/fhir/StructureDefinition/lus-kommunkod').exists())"

Invariant: lus-kommun-1
Description: "A kommunkod is 4 digits"
Severity: #error
Expression: "matches('^[0-9]{4}$')"

Invariant: lus-hsa-1
Description: "An HSA-id is SE, a 10-digit organisation number, '-' and a local part"
Severity: #error
Expression: "matches('^SE[0-9]{10}-[A-Za-z0-9]+$')"

Invariant: lus-enc-1
Description: "A stay that is utskrivningsklar or hemgångsklar has its utskrivningsklar time"
Severity: #error
Expression: "extension('https://lus.example.se/fhir/StructureDefinition/lus-state').value.where(code = 'utskrivningsklar' or code = 'hemgangsklar').exists() implies extension('https://lus.example.se/fhir/StructureDefinition/lus-utskrivningsklar-time').exists()"

Invariant: lus-enc-2
Description: "A stay in state utskriven has ended (period.end)"
Severity: #error
Expression: "extension('https://lus.example.se/fhir/StructureDefinition/lus-state').value.where(code = 'utskriven').exists() implies period.end.exists()"
