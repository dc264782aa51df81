// Each notice of DOMAIN.md as a Communication: `category` is the notice type, `sent` the
// legal timestamp that drives the clocks, `recipient` the receiving units, `about` the stay.

Profile: LUSNotice
Parent: Communication
Id: lus-notice
Title: "LUS meddelande"
Description: "What every LUS notice has: its type (category), patient, stay (about), sender, receivers and the time it was sent, which drives the clocks. A retracted notice (makulering) gets status entered-in-error; it is never deleted."
* insert LUSProfile
* category 1..1
* category from LUSNoticeTypeVS (required)
* category ^short = "The notice type"
* subject 1..1
* subject only Reference(LUSPatient)
* about 1..1
* about only Reference(LUSEncounter)
* about ^short = "The hospital stay (vårdtillfälle) the notice is about"
* encounter only Reference(LUSEncounter)
* sent 1..1
* sent ^short = "When the notice was sent: the legal timestamp that drives the clocks"
* sender 1..1
* sender only Reference(LUSCareUnit or LUSMunicipality)
* recipient 1..*
* recipient only Reference(LUSCareUnit or LUSMunicipality)

Profile: LUSInskrivningsmeddelande
Parent: LUSNotice
Id: lus-inskrivningsmeddelande
Title: "Inskrivningsmeddelande"
Description: "The hospital's notice that the patient may need municipal or primary-care help after discharge, sent within 24 h of admission or of the physician's later assessment. The law (SFS 2017:612, 3 kap.) requires its content: the patient's name (subject.display) and personnummer (subject.identifier), registered address (lus-registered-address) and the estimated time of discharge (lus-estimated-discharge)."
* category = LUSNoticeTypeCS#inskrivningsmeddelande
* extension contains
    LUSEstimatedDischarge named estimatedDischarge 1..1 and
    LUSRegisteredAddress named registeredAddress 1..1
* extension[estimatedDischarge] ^short = "Beräknad tidpunkt för utskrivning (required by law)"
* extension[registeredAddress] ^short = "Folkbokföringsadress (required by law)"
* subject.identifier 1..1
* subject.identifier obeys lus-id-1
* subject.identifier ^short = "Personnummer, samordningsnummer or reservnummer (required by law)"
* subject.identifier.system 1..1
* subject.identifier.value 1..1
* subject.display 1..1
* subject.display ^short = "The patient's name (required by law)"

Profile: LUSBeraknadUtskrivningAndrad
Parent: LUSNotice
Id: lus-beraknad-utskrivning-andrad
Title: "Ändrad beräknad tidpunkt för utskrivning"
Description: "The hospital tells each receiver a new estimated time of discharge."
* category = LUSNoticeTypeCS#beraknad-utskrivning-andrad
* extension contains LUSEstimatedDischarge named estimatedDischarge 1..1

Profile: LUSPlaneringsunderlag
Parent: LUSNotice
Id: lus-planeringsunderlag
Title: "Planeringsunderlag"
Description: "The hospital's structured basis for planning: functional status (ADL), home situation, current help and needs, as payload (text, attachment or a reference to a QuestionnaireResponse or DocumentReference)."
* category = LUSNoticeTypeCS#planeringsunderlag
* payload 1..*

Profile: LUSUtskrivningsklar
Parent: LUSNotice
Id: lus-utskrivningsklar
Title: "Utskrivningsklar"
Description: "The treating physician judges that the patient no longer needs inpatient care. The notice's sent time starts the payment clock."
* category = LUSNoticeTypeCS#utskrivningsklar

Profile: LUSUtskrivningsklarAterkallad
Parent: LUSNotice
Id: lus-utskrivningsklar-aterkallad
Title: "Utskrivningsklar återkallad"
Description: "The patient is no longer utskrivningsklar (the condition changed): the clock stops; a later utskrivningsklar notice starts a new one."
* category = LUSNoticeTypeCS#utskrivningsklar-aterkallad
* extension contains LUSWithdrawnNotice named withdrawnNotice 1..1
* reasonCode ^short = "Why the patient is no longer utskrivningsklar"

Profile: LUSSipKallelse
Parent: LUSNotice
Id: lus-sip-kallelse
Title: "Kallelse till SIP"
Description: "The fast vårdkontakt's invitation to a SIP, due within 3 days of the utskrivningsklar notice when the patient needs help from both region and municipality. The payload says when and where."
* category = LUSNoticeTypeCS#sip-kallelse
* payload 1..*

Profile: LUSUtskrivningsmeddelande
Parent: LUSNotice
Id: lus-utskrivningsmeddelande
Title: "Utskrivningsmeddelande"
Description: "The patient has left the hospital; information for continued care, sent no later than the day of discharge."
* category = LUSNoticeTypeCS#utskrivningsmeddelande
* payload 1..*

Profile: LUSMeddelande
Parent: LUSNotice
Id: lus-meddelande
Title: "Meddelande"
Description: "A general message between the parties about a stay."
* category = LUSNoticeTypeCS#meddelande
* payload 1..*

Profile: LUSKvittens
Parent: LUSNotice
Id: lus-kvittens
Title: "Kvittens"
Description: "A receiver's acknowledgement of a notice: inResponseTo names the notice, the sender is the receiving unit and the recipient the notice's sender."
* category = LUSNoticeTypeCS#kvittens
* inResponseTo 1..1
* inResponseTo only Reference(LUSNotice)
