Instance: karin-stay
InstanceOf: LUSEncounter
Title: "Karin's stay at Medicinavdelning 12, discharged"
Usage: #example
* extension[estimatedDischarge].valueDateTime = "2026-02-17T10:00:00+01:00"
* extension[utskrivningsklar].valueDateTime = "2026-02-17T09:10:00+01:00"
* extension[lusState].valueCoding = LUSStateCS#utskriven "Utskriven"
* identifier.system = "https://regionkalmar.example.se/fhir/id/vardtillfalle"
* identifier.value = "VT-2026-004711"
* status = #finished
* class = $v3ActCode#IMP "inpatient encounter"
* serviceType = LUSCareTypeCS#somatisk "Somatisk vård"
* subject = Reference(karin)
* period.start = "2026-02-09T14:20:00+01:00"
* period.end = "2026-02-18T10:30:00+01:00"
* serviceProvider = Reference(medicin-12)

Instance: karin-careteam
InstanceOf: LUSCareTeam
Title: "Karin's fast vårdkontakt"
Usage: #example
* status = #active
* subject = Reference(karin)
* encounter = Reference(karin-stay)
* participant[fastVardkontakt].role = LUSCareTeamRoleCS#fast-vardkontakt "Fast vårdkontakt"
* participant[fastVardkontakt].member = Reference(eva-nilsson-vc)
* participant[fastVardkontakt].period.start = "2026-02-11T08:45:00+01:00"
* managingOrganization = Reference(vc-kalmar-centrum)

Instance: karin-sip
InstanceOf: LUSCarePlan
Title: "Karin's SIP"
Usage: #example
* status = #active
* intent = #plan
* category = LUSCarePlanTypeCS#SIP "Samordnad individuell plan"
* title = "SIP efter utskrivning"
* subject = Reference(karin)
* encounter = Reference(karin-stay)
* period.start = "2026-02-19T13:00:00+01:00"
* created = "2026-02-19T14:30:00+01:00"
* author = Reference(eva-nilsson-vc)
* careTeam = Reference(karin-careteam)
* contributor[0] = Reference(vc-kalmar-centrum)
* contributor[+] = Reference(kalmar-kommun)
* contributor[+] = Reference(karin)
* activity[0].detail.kind = #Task
* activity[=].detail.code.text = "Hemtjänst morgon och kväll"
* activity[=].detail.status = #in-progress
* activity[=].detail.performer = Reference(kalmar-kommun)
* activity[+].detail.kind = #Task
* activity[=].detail.code.text = "Hemsjukvård: såromläggning två gånger i veckan"
* activity[=].detail.status = #in-progress
* activity[=].detail.performer = Reference(kalmar-kommun)
* activity[+].detail.kind = #Task
* activity[=].detail.code.text = "Rollator och duschpall i hemmet"
* activity[=].detail.status = #completed
* activity[=].detail.performer = Reference(kalmar-kommun)
* activity[+].reference = Reference(karin-task-kalla-till-sip)

Instance: karin-spu
InstanceOf: LUSCarePlan
Title: "Karin's samordnad plan vid utskrivning"
Usage: #example
* status = #completed
* intent = #plan
* category = LUSCarePlanTypeCS#SPU "Samordnad plan vid utskrivning"
* subject = Reference(karin)
* encounter = Reference(karin-stay)
* period.start = "2026-02-12T10:00:00+01:00"
* period.end = "2026-02-18T10:30:00+01:00"
* careTeam = Reference(karin-careteam)
* contributor[0] = Reference(medicin-12)
* contributor[+] = Reference(kalmar-kommun)
* contributor[+] = Reference(vc-kalmar-centrum)
* note.text = "Hemtjänst från hemkomstdagen; hjälpmedel levereras 2026-02-17."
