// Extensions: what R4 has no element for (DOMAIN.md "Mapping to FHIR R4").

RuleSet: LUSExtension
* ^status = #active
* ^experimental = false

Extension: LUSEstimatedDischarge
Id: lus-estimated-discharge
Title: "Beräknad tidpunkt för utskrivning"
Description: "The estimated time of discharge, as judged by the hospital. On the Encounter it is the current estimate (every change a new version); on a notice it is the estimate that notice told its receivers."
Context: Encounter, Communication
* insert LUSExtension
* value[x] 1..1
* value[x] only dateTime

Extension: LUSUtskrivningsklarTime
Id: lus-utskrivningsklar-time
Title: "Tidpunkt utskrivningsklar"
Description: "When the stay became utskrivningsklar: the sent time of the utskrivningsklar notice that started the current payment clock. Absent while the stay is not, or no longer, utskrivningsklar."
Context: Encounter
* insert LUSExtension
* value[x] 1..1
* value[x] only dateTime

Extension: LUSState
Id: lus-state
Title: "LUS-läge"
Description: "The state of the stay in the LUS process."
Context: Encounter
* insert LUSExtension
* value[x] 1..1
* value[x] only Coding
* value[x] from LUSStateVS (required)

Extension: LUSHemgangsklarCheck
Id: lus-hemgangsklar-check
Title: "Hemgångsklar: kontrollpunkt klar"
Description: "One item of the regional hemgångsklar checklist done for the stay: which item (a code of the region's checklist in the server's configuration), when, and by whom. The stay is hemgångsklar when every item of its region's checklist is done after the latest utskrivningsklar notice."
Context: Encounter
* insert LUSExtension
* extension contains
    item 1..1 and
    time 1..1 and
    by 0..1
* extension[item].value[x] only code
* extension[item] ^short = "The checklist item's code"
* extension[time].value[x] only dateTime
* extension[time] ^short = "When it was done"
* extension[by].value[x] only Reference(Organization or Practitioner or PractitionerRole)
* extension[by] ^short = "Who confirmed it"

Extension: LUSKommunkod
Id: lus-kommunkod
Title: "Kommunkod"
Description: "The municipality (kommunkod, SCB) of an address. On the registered address (folkbokföringsadress) it names the patient's municipality, the receiver of LUS notices."
Context: Address
* insert LUSExtension
* value[x] 1..1
* value[x] only Coding
* value[x] from KommunVS (required)
* valueCoding.system 1..1
* valueCoding.system = $kommun
* valueCoding.code 1..1

Extension: LUSRegisteredAddress
Id: lus-registered-address
Title: "Folkbokföringsadress i meddelandet"
Description: "The patient's registered address (folkbokföringsadress) as an inskrivningsmeddelande told it: content the law requires of that notice, kept with the notice because the Patient may change later. Its kommunkod names the patient's municipality. For a patient with protected identity only the kommunkod is sent."
Context: Communication
* insert LUSExtension
* value[x] 1..1
* value[x] only Address
* valueAddress.extension contains LUSKommunkod named kommunkod 1..1

Extension: LUSWithdrawnNotice
Id: lus-withdrawn-notice
Title: "Återkallat meddelande"
Description: "The utskrivningsklar notice that a withdrawal (utskrivningsklar återkallad) withdraws."
Context: Communication
* insert LUSExtension
* value[x] 1..1
* value[x] only Reference(LUSUtskrivningsklar)
