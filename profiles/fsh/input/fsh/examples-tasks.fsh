RuleSet: KarinTask(authored, deadline)
* for = Reference(karin)
* encounter = Reference(karin-stay)
* intent = #order
* authoredOn = "{authored}"
* restriction.period.end = "{deadline}"

Instance: karin-task-skicka-inskrivningsmeddelande
InstanceOf: LUSTaskSkickaInskrivningsmeddelande
Title: "The ward sends the inskrivningsmeddelande (24 h)"
Usage: #example
* status = #completed
* code = LUSTaskTypeCS#skicka-inskrivningsmeddelande "Skicka inskrivningsmeddelande"
* insert KarinTask(2026-02-09T14:20:00+01:00, 2026-02-10T14:20:00+01:00)
* focus = Reference(karin-stay)
* owner = Reference(medicin-12)
* businessStatus = LUSTaskBusinessStatusCS#i-tid "I tid"
* lastModified = "2026-02-10T09:15:00+01:00"

Instance: karin-task-kvittera-kommun
InstanceOf: LUSTaskKvittera
Title: "Kalmar kommun acknowledges the inskrivningsmeddelande"
Usage: #example
* status = #completed
* code = LUSTaskTypeCS#kvittera "Kvittera meddelande"
* insert KarinTask(2026-02-10T09:15:00+01:00, 2026-02-10T17:00:00+01:00)
* focus = Reference(karin-inskrivningsmeddelande)
* requester = Reference(medicin-12)
* owner = Reference(kalmar-kommun)
* businessStatus = LUSTaskBusinessStatusCS#i-tid "I tid"
* output.type.text = "Kvittens"
* output.valueReference = Reference(karin-kvittens-kommun)

Instance: karin-task-paborja-planering
InstanceOf: LUSTaskPaborjaPlanering
Title: "Kalmar kommun starts planning"
Usage: #example
* status = #completed
* code = LUSTaskTypeCS#paborja-planering "Påbörja planering"
* insert KarinTask(2026-02-10T09:15:00+01:00, 2026-02-10T17:00:00+01:00)
* focus = Reference(karin-inskrivningsmeddelande)
* requester = Reference(medicin-12)
* owner = Reference(kalmar-kommun)

Instance: karin-task-skicka-planeringsunderlag
InstanceOf: LUSTaskSkickaPlaneringsunderlag
Title: "The ward sends the planeringsunderlag"
Usage: #example
* status = #completed
* code = LUSTaskTypeCS#skicka-planeringsunderlag "Skicka planeringsunderlag"
* insert KarinTask(2026-02-10T09:15:00+01:00, 2026-02-12T09:15:00+01:00)
* focus = Reference(karin-stay)
* owner = Reference(medicin-12)

Instance: karin-task-utse-fast-vardkontakt
InstanceOf: LUSTaskUtseFastVardkontakt
Title: "The vårdcentral names a fast vårdkontakt before discharge"
Usage: #example
* status = #completed
* code = LUSTaskTypeCS#utse-fast-vardkontakt "Utse fast vårdkontakt"
* insert KarinTask(2026-02-10T09:15:00+01:00, 2026-02-16T12:00:00+01:00)
* focus = Reference(karin-stay)
* requester = Reference(medicin-12)
* owner = Reference(vc-kalmar-centrum)
* output.type.text = "Vårdteam"
* output.valueReference = Reference(karin-careteam)

Instance: karin-task-kalla-till-sip
InstanceOf: LUSTaskKallaTillSip
Title: "The fast vårdkontakt calls to a SIP (3 days after utskrivningsklar)"
Usage: #example
* status = #completed
* code = LUSTaskTypeCS#kalla-till-sip "Kalla till SIP"
* insert KarinTask(2026-02-17T09:10:00+01:00, 2026-02-20T09:10:00+01:00)
* focus = Reference(karin-utskrivningsklar-2)
* owner = Reference(vc-kalmar-centrum)
* output.type.text = "Kallelse"
* output.valueReference = Reference(karin-sip-kallelse)

Instance: karin-task-skicka-utskrivningsmeddelande
InstanceOf: LUSTaskSkickaUtskrivningsmeddelande
Title: "The ward sends the discharge notice (same day)"
Usage: #example
* status = #completed
* code = LUSTaskTypeCS#skicka-utskrivningsmeddelande "Skicka utskrivningsmeddelande"
* insert KarinTask(2026-02-18T10:30:00+01:00, 2026-02-18T23:59:59+01:00)
* focus = Reference(karin-stay)
* owner = Reference(medicin-12)

Instance: overdue-kvittens-task
InstanceOf: LUSTask
Title: "An overdue acknowledgement"
Usage: #example
* status = #requested
* code = LUSTaskTypeCS#kvittera "Kvittera meddelande"
* insert KarinTask(2026-02-16T11:05:00+01:00, 2026-02-16T17:00:00+01:00)
* focus = Reference(karin-utskrivningsklar-1)
* requester = Reference(medicin-12)
* owner = Reference(kalmar-kommun)
* businessStatus = LUSTaskBusinessStatusCS#forsenad "Försenad"
