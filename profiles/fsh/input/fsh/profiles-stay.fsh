// The hospital stay, the plan and the care team.

Profile: LUSEncounter
Parent: Encounter
Id: lus-encounter
Title: "LUS vårdtillfälle"
Description: "A hospital stay (vårdtillfälle) under LUS: class IMP, the ward as serviceProvider, somatic or psychiatric care in serviceType, and the LUS state, estimated discharge and utskrivningsklar time as extensions. Every change is a new version."
* insert LUSProfile
* obeys lus-enc-1 and lus-enc-2
* extension contains
    LUSEstimatedDischarge named estimatedDischarge 0..1 and
    LUSUtskrivningsklarTime named utskrivningsklar 0..1 and
    LUSState named lusState 0..1 and
    LUSHemgangsklarCheck named hemgangsklar 0..*
* class = $v3ActCode#IMP
* serviceType 1..1
* serviceType from LUSCareTypeVS (required)
* subject 1..1
* subject only Reference(LUSPatient)
* period 1..1
* period.start 1..1
* period.start ^short = "Admission (inskrivning)"
* period.end ^short = "Discharge (utskrivning)"
* serviceProvider 1..1
* serviceProvider only Reference(LUSCareUnit)
* serviceProvider ^short = "The ward (slutenvårdsenhet)"

Profile: LUSCareTeam
Parent: CareTeam
Id: lus-careteam
Title: "LUS vårdteam med fast vårdkontakt"
Description: "The people who coordinate a patient's discharge; the fast vårdkontakt (named by the head of the primary-care unit before discharge) is the required participant."
* insert LUSProfile
* subject 1..1
* subject only Reference(LUSPatient)
* encounter only Reference(LUSEncounter)
* participant 1..*
* participant ^slicing.discriminator.type = #pattern
* participant ^slicing.discriminator.path = "role"
* participant ^slicing.rules = #open
* participant contains fastVardkontakt 1..1
* participant[fastVardkontakt].role 1..1
* participant[fastVardkontakt].role = LUSCareTeamRoleCS#fast-vardkontakt
* participant[fastVardkontakt].member 1..1
* participant[fastVardkontakt].member only Reference(PractitionerRole or Practitioner)
* participant[fastVardkontakt].onBehalfOf ^short = "The care unit, when the member is a Practitioner (ctm-1)"
* participant[fastVardkontakt].onBehalfOf only Reference(LUSCareUnit)
* managingOrganization only Reference(LUSCareUnit or LUSMunicipality)

Profile: LUSCarePlan
Parent: CarePlan
Id: lus-careplan
Title: "LUS samordnad plan (SIP, SPU)"
Description: "A coordinated plan for a patient's help after discharge: a SIP or an SPU (category), its parties (careTeam, contributor) and each party's help as activities referencing Tasks."
* insert LUSProfile
* category 1..1
* category from LUSCarePlanTypeVS (required)
* intent = #plan
* subject only Reference(LUSPatient)
* encounter only Reference(LUSEncounter)
* period.start 1..1
* period.start ^short = "When the plan was made (the SIP meeting)"
* author only Reference(LUSCareUnit or LUSMunicipality or Practitioner or PractitionerRole)
* careTeam only Reference(LUSCareTeam)
* contributor 1..*
* contributor ^short = "The parties that made the plan: units, municipality, patient, next of kin"
