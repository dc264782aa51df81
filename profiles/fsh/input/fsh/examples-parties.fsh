// One stay in Kalmar, February 2026: Karin Lindqvist (test personnummer) is admitted to a
// medical ward of the county hospital, needs help from Kalmar kommun and her vårdcentral,
// is utskrivningsklar, withdrawn once, utskrivningsklar again and goes home. Times are
// Swedish local time (CET, +01:00). Every identifier is made up.

Instance: karin
InstanceOf: LUSPatient
Title: "Karin Lindqvist, registered in Kalmar"
Usage: #example
* identifier[personnummer].system = $pnr
* identifier[personnummer].value = "194107086987"
* name.use = #official
* name.family = "Lindqvist"
* name.given = "Karin"
* name.text = "Karin Lindqvist"
* gender = #female
* birthDate = "1941-07-08"
* telecom.system = #phone
* telecom.value = "+46 480 12 34 56"
* address.extension[officialAddressType].valueCodeableConcept = $sct#63381000052101 "folkbokföringsadress"
* address.extension[officialAddressType].valueCodeableConcept.coding.version = "http://snomed.info/sct/45991000052106"
* address.extension[kommunkod].valueCoding = $kommun#0880 "Kalmar"
* address.line = "Storgatan 12"
* address.postalCode = "39232"
* address.city = "Kalmar"
* generalPractitioner = Reference(vc-kalmar-centrum)

Instance: protected-patient
InstanceOf: LUSPatient
Title: "A patient with protected identity (skyddad folkbokföring)"
Usage: #example
* meta.security[protectedIdentity] = $seSecurity#skyddadFolkbokforing "Skyddad folkbokföring"
* identifier[samordningsnummer].system = $snr
* identifier[samordningsnummer].value = "195203742381"
* name.use = #official
* name.family = "Andersson"
* name.given = "Maria"
* gender = #female
* birthDate = "1952-03-14"
// only the municipality is told: the address itself must never leak
* address.extension[officialAddressType].valueCodeableConcept = $sct#63381000052101 "folkbokföringsadress"
* address.extension[kommunkod].valueCoding = $kommun#0880 "Kalmar"

Instance: kalmar-kommun
InstanceOf: LUSMunicipality
Title: "Kalmar kommun"
Usage: #example
* identifier[kommunkod].system = $kommun
* identifier[kommunkod].value = "0880"
* active = true
* type = LUSOrganizationTypeCS#kommun "Kommun"
* name = "Kalmar kommun"
* telecom.system = #phone
* telecom.value = "+46 480 45 00 00"

Instance: medicin-12
InstanceOf: LUSCareUnit
Title: "Medicinavdelning 12, Länssjukhuset Kalmar"
Usage: #example
* identifier[hsaid].system = $hsa
* identifier[hsaid].value = "SE2321000081-S000000012345"
* active = true
* type[lusRole] = LUSOrganizationTypeCS#slutenvard "Slutenvård"
* name = "Medicinavdelning 12, Länssjukhuset Kalmar"

Instance: vc-kalmar-centrum
InstanceOf: LUSCareUnit
Title: "Vårdcentralen Kalmar Centrum"
Usage: #example
* identifier[hsaid].system = $hsa
* identifier[hsaid].value = "SE2321000081-P000000067890"
* active = true
* type[lusRole] = LUSOrganizationTypeCS#primarvard "Primärvård"
* name = "Vårdcentralen Kalmar Centrum"

Instance: eva-nilsson
InstanceOf: $SEBasePractitioner
Title: "Eva Nilsson, distriktssköterska"
Usage: #example
* identifier[hsaid].system = $hsa
* identifier[hsaid].value = "SE2321000081-P000000067891"
* name.family = "Nilsson"
* name.given = "Eva"

Instance: eva-nilsson-vc
InstanceOf: $SEBasePractitionerRole
Title: "Eva Nilsson at Vårdcentralen Kalmar Centrum"
Usage: #example
* practitioner = Reference(eva-nilsson)
* organization = Reference(vc-kalmar-centrum)
* telecom.system = #phone
* telecom.value = "+46 480 12 00 01"
