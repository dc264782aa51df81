// The parties: patient, municipality, care unit (DOMAIN.md "The parties").

RuleSet: LUSProfile
* ^status = #active
* ^experimental = false

Profile: LUSPatient
Parent: $SEBasePatient
Id: lus-patient
Title: "LUS patient"
Description: "A patient in a LUS process: identified by personnummer, samordningsnummer or nationellt reservnummer, with the registered address (folkbokföringsadress) whose kommunkod names the patient's municipality. Protected identity (sekretessmarkering, skyddad folkbokföring) is carried in meta.security; such an address must never leak."
* insert LUSProfile
* obeys lus-pat-1 and lus-pat-2
* meta.security ^slicing.discriminator.type = #value
* meta.security ^slicing.discriminator.path = "system"
* meta.security ^slicing.rules = #open
* meta.security ^slicing.description = "Protected identity labels of HL7 Sweden"
* meta.security contains protectedIdentity 0..*
* meta.security[protectedIdentity] ^short = "Sekretessmarkering or skyddad folkbokföring"
* meta.security[protectedIdentity].system 1..1
* meta.security[protectedIdentity].system = $seSecurity
* meta.security[protectedIdentity].code 1..1
* meta.security[protectedIdentity].code from $seSecurityVS (required)
* identifier 1..*
* identifier[personnummer].value 1..1
* identifier[personnummer].value obeys lus-pnr-1
* identifier[samordningsnummer].value 1..1
* identifier[samordningsnummer].value obeys lus-pnr-1
* identifier[nationelltReservnummer].value 1..1
* name 1..1
* address.extension contains LUSKommunkod named kommunkod 0..1
* address.extension[kommunkod] ^short = "Kommunkod of the address; required on the folkbokföringsadress (lus-pat-2)"
* generalPractitioner only Reference(LUSCareUnit or Practitioner or PractitionerRole)
* generalPractitioner ^short = "The primary-care unit where the patient is listed"

Profile: LUSMunicipality
Parent: $SEBaseOrganization
Id: lus-municipality
Title: "LUS kommun"
Description: "A municipality taking part in LUS, identified by its kommunkod (and an HSA-id where it has one)."
* insert LUSProfile
* identifier 1..*
* identifier contains kommunkod 1..1
* identifier[kommunkod].system 1..1
* identifier[kommunkod].system = $kommun
* identifier[kommunkod].value 1..1
* identifier[kommunkod].value obeys lus-kommun-1
* active 1..1
* type 1..1
* type = LUSOrganizationTypeCS#kommun
* name 1..1

Profile: LUSCareUnit
Parent: $SEBaseOrganization
Id: lus-care-unit
Title: "LUS vårdenhet"
Description: "A care unit taking part in LUS, identified by its HSA-id: a hospital ward (sender of notices), a primary-care unit, outpatient psychiatry, or a municipal unit."
* insert LUSProfile
* identifier 1..*
* identifier[hsaid] 1..1
* identifier[hsaid].value 1..1
* identifier[hsaid].value obeys lus-hsa-1
* active 1..1
* type 1..*
* type ^slicing.discriminator.type = #value
* type ^slicing.discriminator.path = "coding.system"
* type ^slicing.rules = #open
* type contains lusRole 1..1
* type[lusRole] from LUSOrganizationTypeVS (required)
* type[lusRole].coding 1..1
* type[lusRole].coding.system 1..1
* type[lusRole].coding.system = "https://lus.example.se/fhir/CodeSystem/lus-organization-type"
* type[lusRole] ^short = "The unit's part in LUS (slutenvård, primärvård, ...)"
* name 1..1
* partOf ^short = "The organisation the unit belongs to (a region, a municipality)"
