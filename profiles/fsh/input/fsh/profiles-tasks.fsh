// Each obligation with a deadline as a Task: `code` what must be done, `owner` who must do
// it, `restriction.period.end` the deadline, `focus` what it is about; businessStatus
// says when it is overdue.

Profile: LUSTask
Parent: Task
Id: lus-task
Title: "LUS uppgift"
Description: "An obligation with a deadline in the LUS process."
* insert LUSProfile
* code 1..1
* code from LUSTaskTypeVS (required)
* intent = #order
* for 1..1
* for only Reference(LUSPatient)
* focus 1..1
* focus only Reference(LUSNotice or LUSEncounter or LUSCarePlan)
* encounter only Reference(LUSEncounter)
* authoredOn 1..1
* requester only Reference(LUSCareUnit or LUSMunicipality)
* owner 1..1
* owner only Reference(LUSCareUnit or LUSMunicipality)
* owner ^short = "The unit that must do it"
* restriction 1..1
* restriction.period 1..1
* restriction.period.end 1..1
* restriction.period.end ^short = "The deadline"
* businessStatus from LUSTaskBusinessStatusVS (extensible)
* businessStatus ^short = "i-tid or forsenad (overdue)"

Profile: LUSTaskSkickaInskrivningsmeddelande
Parent: LUSTask
Id: lus-task-skicka-inskrivningsmeddelande
Title: "Uppgift: skicka inskrivningsmeddelande"
Description: "The ward sends the inskrivningsmeddelande: due 24 h after admission or after the physician's later assessment."
* code = LUSTaskTypeCS#skicka-inskrivningsmeddelande
* focus only Reference(LUSEncounter)
* owner only Reference(LUSCareUnit)

Profile: LUSTaskKvittera
Parent: LUSTask
Id: lus-task-kvittera
Title: "Uppgift: kvittera meddelande"
Description: "A receiver acknowledges a notice; deadline from the regional routine."
* code = LUSTaskTypeCS#kvittera
* focus only Reference(LUSNotice)

Profile: LUSTaskPaborjaPlanering
Parent: LUSTask
Id: lus-task-paborja-planering
Title: "Uppgift: påbörja planering"
Description: "The receiver of an inskrivningsmeddelande starts planning its help, on receipt."
* code = LUSTaskTypeCS#paborja-planering
* focus only Reference(LUSInskrivningsmeddelande)

Profile: LUSTaskSkickaPlaneringsunderlag
Parent: LUSTask
Id: lus-task-skicka-planeringsunderlag
Title: "Uppgift: skicka planeringsunderlag"
Description: "The ward sends the planeringsunderlag; deadline from the regional agreement."
* code = LUSTaskTypeCS#skicka-planeringsunderlag
* focus only Reference(LUSEncounter)
* owner only Reference(LUSCareUnit)

Profile: LUSTaskUtseFastVardkontakt
Parent: LUSTask
Id: lus-task-utse-fast-vardkontakt
Title: "Uppgift: utse fast vårdkontakt"
Description: "The head of the primary-care unit that got the inskrivningsmeddelande names a fast vårdkontakt, before discharge."
* code = LUSTaskTypeCS#utse-fast-vardkontakt
* focus only Reference(LUSEncounter)
* owner only Reference(LUSCareUnit)

Profile: LUSTaskKallaTillSip
Parent: LUSTask
Id: lus-task-kalla-till-sip
Title: "Uppgift: kalla till SIP"
Description: "The fast vårdkontakt calls to a SIP, due 3 days after the utskrivningsklar notice (not after homecoming), when the patient needs help from both region and municipality."
* code = LUSTaskTypeCS#kalla-till-sip
* focus only Reference(LUSUtskrivningsklar)
* owner only Reference(LUSCareUnit)

Profile: LUSTaskSkickaUtskrivningsmeddelande
Parent: LUSTask
Id: lus-task-skicka-utskrivningsmeddelande
Title: "Uppgift: skicka utskrivningsmeddelande"
Description: "The ward sends the discharge notice no later than the day of discharge."
* code = LUSTaskTypeCS#skicka-utskrivningsmeddelande
* focus only Reference(LUSEncounter)
* owner only Reference(LUSCareUnit)
