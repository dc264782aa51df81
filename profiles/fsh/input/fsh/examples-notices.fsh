RuleSet: KarinNotice(sent)
* status = #completed
* subject = Reference(karin)
* about = Reference(karin-stay)
* encounter = Reference(karin-stay)
* sent = "{sent}"

RuleSet: FromWard
* sender = Reference(medicin-12)
* recipient[0] = Reference(kalmar-kommun)
* recipient[+] = Reference(vc-kalmar-centrum)

Instance: karin-inskrivningsmeddelande
InstanceOf: LUSInskrivningsmeddelande
Title: "Inskrivningsmeddelande for Karin"
Usage: #example
* insert KarinNotice(2026-02-10T09:15:00+01:00)
* insert FromWard
* category = LUSNoticeTypeCS#inskrivningsmeddelande "Inskrivningsmeddelande"
* extension[estimatedDischarge].valueDateTime = "2026-02-16T12:00:00+01:00"
* extension[registeredAddress].valueAddress.extension[kommunkod].valueCoding = $kommun#0880 "Kalmar"
* extension[registeredAddress].valueAddress.line = "Storgatan 12"
* extension[registeredAddress].valueAddress.postalCode = "39232"
* extension[registeredAddress].valueAddress.city = "Kalmar"
* subject.identifier.system = $pnr
* subject.identifier.value = "194107086987"
* subject.display = "Karin Lindqvist"
* payload.contentString = "Inlagd efter fall i hemmet, höftkontusion. Bor ensam, har i dag ingen hemtjänst."

Instance: karin-kvittens-kommun
InstanceOf: LUSKvittens
Title: "Kalmar kommun acknowledges the inskrivningsmeddelande"
Usage: #example
* insert KarinNotice(2026-02-10T10:02:00+01:00)
* category = LUSNoticeTypeCS#kvittens "Kvittens"
* inResponseTo = Reference(karin-inskrivningsmeddelande)
* sender = Reference(kalmar-kommun)
* recipient = Reference(medicin-12)

Instance: karin-kvittens-vc
InstanceOf: LUSKvittens
Title: "The vårdcentral acknowledges the inskrivningsmeddelande"
Usage: #example
* insert KarinNotice(2026-02-10T11:20:00+01:00)
* category = LUSNoticeTypeCS#kvittens "Kvittens"
* inResponseTo = Reference(karin-inskrivningsmeddelande)
* sender = Reference(vc-kalmar-centrum)
* recipient = Reference(medicin-12)

Instance: karin-planeringsunderlag
InstanceOf: LUSPlaneringsunderlag
Title: "Planeringsunderlag for Karin"
Usage: #example
* insert KarinNotice(2026-02-11T13:40:00+01:00)
* insert FromWard
* category = LUSNoticeTypeCS#planeringsunderlag "Planeringsunderlag"
* payload[0].contentString = "ADL: behöver hjälp vid dusch och påklädning, går med rollator. Boende: lägenhet 2 tr med hiss. Nuvarande hjälp: ingen. Behov: hemtjänst morgon och kväll, såromläggning."

Instance: karin-beraknad-utskrivning-andrad
InstanceOf: LUSBeraknadUtskrivningAndrad
Title: "New estimated discharge for Karin"
Usage: #example
* insert KarinNotice(2026-02-13T08:30:00+01:00)
* insert FromWard
* category = LUSNoticeTypeCS#beraknad-utskrivning-andrad "Ändrad beräknad tidpunkt för utskrivning"
* extension[estimatedDischarge].valueDateTime = "2026-02-17T10:00:00+01:00"

Instance: karin-utskrivningsklar-1
InstanceOf: LUSUtskrivningsklar
Title: "Karin is utskrivningsklar (later withdrawn)"
Usage: #example
* insert KarinNotice(2026-02-16T11:05:00+01:00)
* insert FromWard
* category = LUSNoticeTypeCS#utskrivningsklar "Utskrivningsklar"

Instance: karin-utskrivningsklar-aterkallad
InstanceOf: LUSUtskrivningsklarAterkallad
Title: "Karin's utskrivningsklar is withdrawn: fever"
Usage: #example
* insert KarinNotice(2026-02-16T15:30:00+01:00)
* insert FromWard
* category = LUSNoticeTypeCS#utskrivningsklar-aterkallad "Utskrivningsklar återkallad"
* extension[withdrawnNotice].valueReference = Reference(karin-utskrivningsklar-1)
* reasonCode.text = "Feber 38,9; odlingar tagna"

Instance: karin-utskrivningsklar-2
InstanceOf: LUSUtskrivningsklar
Title: "Karin is utskrivningsklar again"
Usage: #example
* insert KarinNotice(2026-02-17T09:10:00+01:00)
* insert FromWard
* category = LUSNoticeTypeCS#utskrivningsklar "Utskrivningsklar"

Instance: karin-sip-kallelse
InstanceOf: LUSSipKallelse
Title: "The fast vårdkontakt calls to a SIP"
Usage: #example
* insert KarinNotice(2026-02-17T14:00:00+01:00)
* category = LUSNoticeTypeCS#sip-kallelse "Kallelse till SIP"
* sender = Reference(vc-kalmar-centrum)
* recipient[0] = Reference(kalmar-kommun)
* recipient[+] = Reference(medicin-12)
* payload.contentString = "SIP-möte 2026-02-19 kl. 13.00 i Karins hem, Storgatan 12. Karin och hennes dotter deltar."

Instance: karin-utskrivningsmeddelande
InstanceOf: LUSUtskrivningsmeddelande
Title: "Karin has gone home"
Usage: #example
* insert KarinNotice(2026-02-18T10:45:00+01:00)
* insert FromWard
* category = LUSNoticeTypeCS#utskrivningsmeddelande "Utskrivningsmeddelande"
* payload[0].contentString = "Utskriven 2026-02-18 kl. 10.30. Läkemedelslista och epikris bifogas. Såromläggning tisdag och fredag."

Instance: karin-meddelande
InstanceOf: LUSMeddelande
Title: "A message from the municipality to the ward"
Usage: #example
* insert KarinNotice(2026-02-12T14:10:00+01:00)
* category = LUSNoticeTypeCS#meddelande "Meddelande"
* sender = Reference(kalmar-kommun)
* recipient = Reference(medicin-12)
* payload.contentString = "Hemtjänst kan starta från 2026-02-17. Vilken tid beräknas hemresan?"

Instance: retracted-notice
InstanceOf: LUSNotice
Title: "A notice sent in error and retracted (makulering)"
Usage: #example
* status = #entered-in-error
* category = LUSNoticeTypeCS#meddelande "Meddelande"
* subject = Reference(karin)
* about = Reference(karin-stay)
* sent = "2026-02-12T09:00:00+01:00"
* sender = Reference(medicin-12)
* recipient = Reference(kalmar-kommun)
* payload.contentString = "Skickat till fel mottagare."
* note.text = "Makulerat 2026-02-12 09.20: fel mottagare."
