// The LUS reports (docs/reports.md): what their MeasureReports measure, the figures, the
// extensions that state what produced a report, and the two operations.

CodeSystem: LUSReportFigureCS
Id: lus-report-figure
Title: "LUS rapportmått"
Description: "The figures of the LUS reports, one MeasureReport group each."
* insert LUSCodeSystem
* #utskrivningsklara-dagar "Utskrivningsklara dagar" "Calendar days in hospital after the utskrivningsklar notice (discharge date − notice date, Swedish time), summed over the stays and their utskrivningsklar periods."
* #medel-utskrivningsklara-dagar "Utskrivningsklara dagar i genomsnitt per vårdtillfälle" "Utskrivningsklara dagar divided by the number of stays that were utskrivningsklar."
* #utskrivna-dag-0 "Utskrivna dag 0" "Stays whose last utskrivningsklar period ended in the discharge on the day of its notice; the score is their share of the stays."
* #debiterbara-dagar "Debiterbara dagar" "Days the municipality pays for under the report's rule set."
* #belopp "Belopp" "Billable days times the daily amount of the year (kronor)."

Extension: LUSReportRuleSet
Id: lus-report-rule-set
Title: "Regelverk för betalningsansvar"
Description: "The rule set that produced a payment-liability report: its name, title, parameters as configured (canonical JSON), a sha256 digest over them and the daily amounts used, and the daily amount of each year of the period."
Context: MeasureReport
* insert LUSExtension
* extension contains
    name 1..1 and
    title 0..1 and
    parameters 1..1 and
    digest 1..1 and
    dailyAmount 0..*
* extension[name].value[x] only code
* extension[title].value[x] only string
* extension[parameters].value[x] only string
* extension[digest].value[x] only string
* extension[dailyAmount].extension contains
    year 1..1 and
    amount 1..1
* extension[dailyAmount].extension[year].value[x] only integer
* extension[dailyAmount].extension[amount].value[x] only Money

Extension: LUSReportAsOf
Id: lus-report-as-of
Title: "Underlag per tidpunkt"
Description: "The instant whose store the report read: every resource in the version current then. Passing it back as asOf reproduces the report."
Context: MeasureReport
* insert LUSExtension
* value[x] 1..1
* value[x] only instant

Extension: LUSReportKommun
Id: lus-report-kommun
Title: "Kommun"
Description: "The municipality (kommunkod) the report is limited to; absent: every municipality."
Context: MeasureReport
* insert LUSExtension
* value[x] 1..1
* value[x] only Coding
* value[x] from KommunVS (required)

Instance: lus-utskrivningsklara-dagar
InstanceOf: Measure
Usage: #definition
Title: "Utskrivningsklara dagar"
* url = "https://lus.example.se/fhir/Measure/lus-utskrivningsklara-dagar"
* version = "0.1.0"
* name = "LUSUtskrivningsklaraDagar"
* title = "Utskrivningsklara dagar"
* status = #active
* experimental = false
* publisher = "LUS FHIR server project"
* description = "The national indicator of LUS per municipality and period: calendar days patients stay in hospital after the utskrivningsklar notice, in total and per stay, somatic and psychiatric care separately, and the stays discharged on day 0. A stay counts in the period of its discharge date (Swedish time). Computed by the operation $utskrivningsklara-dagar."
* subjectCodeableConcept = http://hl7.org/fhir/resource-types#Encounter
* scoring = http://terminology.hl7.org/CodeSystem/measure-scoring#continuous-variable
* improvementNotation = http://terminology.hl7.org/CodeSystem/measure-improvement-notation#decrease
* group[0].code = LUSReportFigureCS#utskrivningsklara-dagar
* group[0].population[0].code = http://terminology.hl7.org/CodeSystem/measure-population#initial-population
* group[0].population[0].criteria.language = #application/x-fhir-query
* group[0].population[0].criteria.expression = "Encounter?class=IMP"
* group[0].population[0].criteria.description = "Inpatient stays discharged in the period that had at least one utskrivningsklar notice (not retracted)."
* group[0].stratifier[0].code.text = "vårdform"
* group[0].stratifier[0].criteria.language = #text/fhirpath
* group[0].stratifier[0].criteria.expression = "Encounter.serviceType.coding.where(system = 'https://lus.example.se/fhir/CodeSystem/lus-care-type').code"
* group[1].code = LUSReportFigureCS#medel-utskrivningsklara-dagar
* group[1].population[0].code = http://terminology.hl7.org/CodeSystem/measure-population#initial-population
* group[1].population[0].criteria.language = #application/x-fhir-query
* group[1].population[0].criteria.expression = "Encounter?class=IMP"
* group[1].population[1].code = http://terminology.hl7.org/CodeSystem/measure-population#measure-population
* group[1].population[1].criteria.language = #application/x-fhir-query
* group[1].population[1].criteria.expression = "Encounter?class=IMP"
* group[1].population[1].criteria.description = "The same stays; the observation is each stay's utskrivningsklara dagar, aggregated by average."
* group[1].stratifier[0].code.text = "vårdform"
* group[1].stratifier[0].criteria.language = #text/fhirpath
* group[1].stratifier[0].criteria.expression = "Encounter.serviceType.coding.where(system = 'https://lus.example.se/fhir/CodeSystem/lus-care-type').code"
* group[2].code = LUSReportFigureCS#utskrivna-dag-0
* group[2].population[0].code = http://terminology.hl7.org/CodeSystem/measure-population#denominator
* group[2].population[0].criteria.language = #application/x-fhir-query
* group[2].population[0].criteria.expression = "Encounter?class=IMP"
* group[2].population[1].code = http://terminology.hl7.org/CodeSystem/measure-population#numerator
* group[2].population[1].criteria.language = #application/x-fhir-query
* group[2].population[1].criteria.expression = "Encounter?class=IMP"
* group[2].population[1].criteria.description = "Stays discharged on the day of their last utskrivningsklar notice."
* group[2].stratifier[0].code.text = "vårdform"
* group[2].stratifier[0].criteria.language = #text/fhirpath
* group[2].stratifier[0].criteria.expression = "Encounter.serviceType.coding.where(system = 'https://lus.example.se/fhir/CodeSystem/lus-care-type').code"

Instance: lus-betalningsansvar
InstanceOf: Measure
Usage: #definition
Title: "Betalningsansvar"
* url = "https://lus.example.se/fhir/Measure/lus-betalningsansvar"
* version = "0.1.0"
* name = "LUSBetalningsansvar"
* title = "Betalningsansvar för utskrivningsklara patienter"
* status = #active
* experimental = false
* publisher = "LUS FHIR server project"
* description = "Payment liability per municipality and period under a rule set (the law's default or a regional agreement, from configuration): the figures of lus-utskrivningsklara-dagar, billable days and the amount. The report names the rule set, its parameters, their digest and the daily amounts. Computed by the operation $betalningsansvar."
* subjectCodeableConcept = http://hl7.org/fhir/resource-types#Encounter
* scoring = http://terminology.hl7.org/CodeSystem/measure-scoring#continuous-variable
* improvementNotation = http://terminology.hl7.org/CodeSystem/measure-improvement-notation#decrease
* group[0].code = LUSReportFigureCS#debiterbara-dagar
* group[0].population[0].code = http://terminology.hl7.org/CodeSystem/measure-population#initial-population
* group[0].population[0].criteria.language = #application/x-fhir-query
* group[0].population[0].criteria.expression = "Encounter?class=IMP"
* group[0].population[0].criteria.description = "Inpatient stays discharged in the period that had at least one utskrivningsklar notice."
* group[0].stratifier[0].code.text = "vårdform"
* group[0].stratifier[0].criteria.language = #text/fhirpath
* group[0].stratifier[0].criteria.expression = "Encounter.serviceType.coding.where(system = 'https://lus.example.se/fhir/CodeSystem/lus-care-type').code"
* group[1].code = LUSReportFigureCS#belopp
* group[1].population[0].code = http://terminology.hl7.org/CodeSystem/measure-population#initial-population
* group[1].population[0].criteria.language = #application/x-fhir-query
* group[1].population[0].criteria.expression = "Encounter?class=IMP"
* group[1].stratifier[0].code.text = "vårdform"
* group[1].stratifier[0].criteria.language = #text/fhirpath
* group[1].stratifier[0].criteria.expression = "Encounter.serviceType.coding.where(system = 'https://lus.example.se/fhir/CodeSystem/lus-care-type').code"

RuleSet: LUSReportParameters
* parameter[0].name = #periodStart
* parameter[0].use = #in
* parameter[0].min = 0
* parameter[0].max = "1"
* parameter[0].type = #date
* parameter[0].documentation = "First discharge date of the period (Swedish calendar day), with periodEnd; or month."
* parameter[1].name = #periodEnd
* parameter[1].use = #in
* parameter[1].min = 0
* parameter[1].max = "1"
* parameter[1].type = #date
* parameter[1].documentation = "Last discharge date of the period (inclusive)."
* parameter[2].name = #month
* parameter[2].use = #in
* parameter[2].min = 0
* parameter[2].max = "1"
* parameter[2].type = #string
* parameter[2].documentation = "YYYY-MM: the whole month, instead of periodStart and periodEnd."
* parameter[3].name = #kommun
* parameter[3].use = #in
* parameter[3].min = 0
* parameter[3].max = "1"
* parameter[3].type = #string
* parameter[3].documentation = "Kommunkod (4 digits) of the patients' municipality; absent: every municipality."
* parameter[4].name = #asOf
* parameter[4].use = #in
* parameter[4].min = 0
* parameter[4].max = "1"
* parameter[4].type = #instant
* parameter[4].documentation = "The store is read as it was at this instant (default: now, echoed in the report's lus-report-as-of extension); the same parameters and asOf give the same report."

Instance: lus-utskrivningsklara-dagar-operation
InstanceOf: OperationDefinition
Usage: #definition
* id = "lus-utskrivningsklara-dagar"
* url = "https://lus.example.se/fhir/OperationDefinition/lus-utskrivningsklara-dagar"
* version = "0.1.0"
* name = "UtskrivningsklaraDagar"
* title = "Utskrivningsklara dagar"
* status = #active
* kind = #operation
* experimental = false
* publisher = "LUS FHIR server project"
* description = "Utskrivningsklara dagar per stay and on average, somatic and psychiatric care separately, and stays discharged on day 0, per municipality and period. Answers a MeasureReport of lus-utskrivningsklara-dagar, or CSV (_format=text/csv or Accept: text/csv: semicolons, decimal comma, UTF-8 with BOM, one row per stay and summary rows)."
* code = #utskrivningsklara-dagar
* system = true
* type = false
* instance = false
* affectsState = false
* insert LUSReportParameters
* parameter[5].name = #return
* parameter[5].use = #out
* parameter[5].min = 1
* parameter[5].max = "1"
* parameter[5].type = #MeasureReport
* parameter[5].documentation = "The report."

Instance: lus-betalningsansvar-operation
InstanceOf: OperationDefinition
Usage: #definition
* id = "lus-betalningsansvar"
* url = "https://lus.example.se/fhir/OperationDefinition/lus-betalningsansvar"
* version = "0.1.0"
* name = "Betalningsansvar"
* title = "Betalningsansvar"
* status = #active
* kind = #operation
* experimental = false
* publisher = "LUS FHIR server project"
* description = "Payment liability per municipality and period under a rule set from configuration: utskrivningsklara dagar, billable days and the amount. Answers a MeasureReport of lus-betalningsansvar, or CSV. A year of the period without a configured daily amount is refused (400)."
* code = #betalningsansvar
* system = true
* type = false
* instance = false
* affectsState = false
* insert LUSReportParameters
* parameter[5].name = #regelverk
* parameter[5].use = #in
* parameter[5].min = 0
* parameter[5].max = "1"
* parameter[5].type = #string
* parameter[5].documentation = "The rule set (lag, stockholm, kalmar, halland or a configured one); absent: the configured default."
* parameter[6].name = #return
* parameter[6].use = #out
* parameter[6].min = 1
* parameter[6].max = "1"
* parameter[6].type = #MeasureReport
* parameter[6].documentation = "The report."
