// Code systems and value sets of the LUS process (DOMAIN.md "The process and its clocks").
// Codes are Swedish (the domain's own terms); displays are the Swedish names.

RuleSet: LUSCodeSystem
* ^status = #active
* ^experimental = false
* ^caseSensitive = true
* ^content = #complete
* ^language = #sv

RuleSet: LUSValueSet
* ^status = #active
* ^experimental = false
* ^language = #sv

CodeSystem: LUSNoticeTypeCS
Id: lus-notice-type
Title: "LUS meddelandetyp"
Description: "Types of notice (meddelande) exchanged under LUS (SFS 2017:612), each a Communication.category."
* insert LUSCodeSystem
* #inskrivningsmeddelande "Inskrivningsmeddelande" "The hospital tells the municipality and primary care that the patient may need their help after discharge (≤ 24 h after admission or after the physician's later assessment)."
* #beraknad-utskrivning-andrad "Ändrad beräknad tidpunkt för utskrivning" "The hospital tells each receiver a new estimated time of discharge."
* #planering-paborjad "Planering påbörjad" "A receiver reports that it has started planning its help."
* #planeringsunderlag "Planeringsunderlag" "Structured basis for planning: functional status, home situation, current help, needs."
* #fast-vardkontakt-utsedd "Fast vårdkontakt utsedd" "The primary-care unit names the patient's fast vårdkontakt."
* #utskrivningsklar "Utskrivningsklar" "The treating physician judges that the patient no longer needs inpatient care; the notice's time starts the payment clock."
* #utskrivningsklar-aterkallad "Utskrivningsklar återkallad" "The patient is no longer utskrivningsklar; the clock stops."
* #sip-kallelse "Kallelse till SIP" "Invitation to a coordinated individual plan (samordnad individuell plan)."
* #utskrivningsmeddelande "Utskrivningsmeddelande" "The patient has left the hospital; information for continued care."
* #meddelande "Meddelande" "A general message between the parties about a stay."
* #kvittens "Kvittens" "Acknowledgement of a received notice (Communication.inResponseTo names the notice)."

ValueSet: LUSNoticeTypeVS
Id: lus-notice-type
Title: "LUS meddelandetyper"
Description: "All LUS notice types."
* insert LUSValueSet
* include codes from system LUSNoticeTypeCS

CodeSystem: LUSTaskTypeCS
Id: lus-task-type
Title: "LUS uppgiftstyp"
Description: "Obligations with a deadline under LUS, each a Task.code."
* insert LUSCodeSystem
* #skicka-inskrivningsmeddelande "Skicka inskrivningsmeddelande" "The hospital sends the inskrivningsmeddelande within 24 h of admission (or of the physician's later assessment)."
* #kvittera "Kvittera meddelande" "The receiver acknowledges a notice (regional routine)."
* #paborja-planering "Påbörja planering" "The receiver of an inskrivningsmeddelande starts planning its help."
* #skicka-planeringsunderlag "Skicka planeringsunderlag" "The hospital sends the planeringsunderlag (regional deadline)."
* #utse-fast-vardkontakt "Utse fast vårdkontakt" "The head of the primary-care unit names a fast vårdkontakt before discharge."
* #kalla-till-sip "Kalla till SIP" "The fast vårdkontakt calls to a SIP within 3 days of the utskrivningsklar notice."
* #skicka-utskrivningsmeddelande "Skicka utskrivningsmeddelande" "The hospital sends the discharge notice no later than the day of discharge."

ValueSet: LUSTaskTypeVS
Id: lus-task-type
Title: "LUS uppgiftstyper"
Description: "All LUS task types."
* insert LUSValueSet
* include codes from system LUSTaskTypeCS

CodeSystem: LUSTaskBusinessStatusCS
Id: lus-task-business-status
Title: "LUS uppgiftens tidsläge"
Description: "Whether a LUS task is within its deadline (Task.businessStatus)."
* insert LUSCodeSystem
* #i-tid "I tid" "The deadline has not passed."
* #forsenad "Försenad" "The deadline (Task.restriction.period.end) passed before the task was completed."

ValueSet: LUSTaskBusinessStatusVS
Id: lus-task-business-status
Title: "LUS uppgiftens tidslägen"
Description: "All LUS task business statuses."
* insert LUSValueSet
* include codes from system LUSTaskBusinessStatusCS

CodeSystem: LUSStateCS
Id: lus-state
Title: "LUS vårdtillfällets läge"
Description: "State of one hospital stay under LUS: inskriven → planering → utskrivningsklar ⇄ (återkallad → planering) → hemgångsklar → utskriven, and makulerad from any state."
* insert LUSCodeSystem
* #inskriven "Inskriven" "Admitted; an inskrivningsmeddelande may be due."
* #planering "Planering" "The inskrivningsmeddelande is sent; the receivers plan their help."
* #utskrivningsklar "Utskrivningsklar" "The treating physician judged the patient utskrivningsklar; the payment clock runs."
* #aterkallad "Utskrivningsklar återkallad" "The utskrivningsklar judgement was withdrawn; the clock stopped."
* #hemgangsklar "Hemgångsklar" "Every item of the regional checklist is done; the patient can go home."
* #utskriven "Utskriven" "The patient has left the hospital."
* #makulerad "Makulerad" "The stay was recorded in error."

ValueSet: LUSStateVS
Id: lus-state
Title: "LUS vårdtillfällets lägen"
Description: "All LUS states of a stay."
* insert LUSValueSet
* include codes from system LUSStateCS

CodeSystem: LUSCarePlanTypeCS
Id: lus-care-plan-type
Title: "Vårdplanstyp"
Description: "Types of care plan, after the plan types of Inera's RIV-TA GetCarePlans (from Socialstyrelsen's term bank)."
* insert LUSCodeSystem
* #SIP "Samordnad individuell plan" "A plan of the region's and the municipality's help, made together with the patient (SIP)."
* #SPU "Samordnad plan vid utskrivning" "The coordinated plan made for a discharge from inpatient care."
* #SPLPTLRV "Samordnad vårdplan LPT/LRV" "Coordinated care plan for open compulsory psychiatric care or open forensic psychiatric care."
* #VP "Vårdplan" "Care plan."
* #HP "Habiliteringsplan" "Habilitation plan."
* #RP "Rehabiliteringsplan" "Rehabilitation plan."
* #GP "Genomförandeplan" "The social services' plan of how granted help is carried out."
* #SVP "Standardiserad vårdplan" "Standardised care plan."

ValueSet: LUSCarePlanTypeVS
Id: lus-care-plan-type
Title: "Vårdplanstyper"
Description: "All care plan types."
* insert LUSValueSet
* include codes from system LUSCarePlanTypeCS

CodeSystem: LUSCareTypeCS
Id: lus-care-type
Title: "LUS vårdform"
Description: "Somatic or psychiatric inpatient care: the payment rules of regional agreements differ between them."
* insert LUSCodeSystem
* #somatisk "Somatisk vård" "Somatic inpatient care."
* #psykiatrisk "Psykiatrisk vård" "Psychiatric inpatient care, including compulsory and forensic psychiatric care."

ValueSet: LUSCareTypeVS
Id: lus-care-type
Title: "LUS vårdformer"
Description: "All LUS care types."
* insert LUSValueSet
* include codes from system LUSCareTypeCS

CodeSystem: LUSOrganizationTypeCS
Id: lus-organization-type
Title: "LUS aktörstyp"
Description: "The kind of party an organisation is in the LUS process."
* insert LUSCodeSystem
* #slutenvard "Slutenvård" "A hospital ward: inpatient care, the sender of notices."
* #primarvard "Primärvård" "A primary-care unit (vårdcentral, närsjukvård) where patients are listed."
* #psykiatrisk-oppenvard "Psykiatrisk öppenvård" "Outpatient psychiatry."
* #kommun "Kommun" "A municipality, identified by its kommunkod."
* #socialtjanst "Socialtjänst" "The municipality's social services."
* #kommunal-halso-och-sjukvard "Kommunal hälso- och sjukvård" "The municipality's health care (hemsjukvård)."

ValueSet: LUSOrganizationTypeVS
Id: lus-organization-type
Title: "LUS aktörstyper"
Description: "All LUS organisation types."
* insert LUSValueSet
* include codes from system LUSOrganizationTypeCS

CodeSystem: LUSCareTeamRoleCS
Id: lus-care-team-role
Title: "LUS roll i vårdteamet"
Description: "Roles of the people who coordinate a patient's discharge."
* insert LUSCodeSystem
* #fast-vardkontakt "Fast vårdkontakt" "The named care coordinator in primary care, appointed before discharge."
* #kommunens-kontaktperson "Kommunens kontaktperson" "The municipality's contact for the patient's planning (e.g. biståndshandläggare)."
* #slutenvardens-kontaktperson "Slutenvårdens kontaktperson" "The ward's contact for the patient's planning."

ValueSet: LUSCareTeamRoleVS
Id: lus-care-team-role
Title: "LUS roller i vårdteamet"
Description: "All LUS care team roles."
* insert LUSValueSet
* include codes from system LUSCareTeamRoleCS

ValueSet: KommunVS
Id: kommun
Title: "Sveriges kommuner"
Description: "The 290 Swedish municipalities by kommunkod (SCB), code system urn:oid:1.2.752.129.2.2.1.17."
* insert LUSValueSet
* include codes from system $kommun

ValueSet: LanVS
Id: lan
Title: "Sveriges län"
Description: "The 21 Swedish counties (regions) by länskod (SCB), code system urn:oid:1.2.752.129.2.2.1.18."
* insert LUSValueSet
* include codes from system $lan
