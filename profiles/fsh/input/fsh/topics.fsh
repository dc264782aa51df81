// SubscriptionTopics in the R4 form of the Subscriptions R5 Backport IG: a Basic resource
// coded SubscriptionTopic, its elements as the R5 cross-version extensions. The canonical
// URL is the url extension; a Subscription names it in Subscription.criteria and filters
// with the backport filter-criteria extension, e.g. Communication?recipient=Organization/x.

Alias: $topic = http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic
Alias: $trigger = http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic.resourceTrigger
Alias: $canFilterBy = http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic.canFilterBy
Alias: $shape = http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic.notificationShape

RuleSet: TopicCode
* code = http://hl7.org/fhir/fhir-types#SubscriptionTopic
* modifierExtension[0].url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.status"
* modifierExtension[0].valueCode = #active
* extension[+].url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.version"
* extension[=].valueString = "0.1.0"
* extension[+].url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.date"
* extension[=].valueDateTime = "2026-02-01"

Instance: lus-topic-notice
InstanceOf: Basic
Usage: #definition
Title: "SubscriptionTopic: a LUS notice to my organisation"
* extension[0].url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.url"
* extension[=].valueUri = "https://lus.example.se/fhir/SubscriptionTopic/notice"
* insert TopicCode
* extension[+].url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.name"
* extension[=].valueString = "LUSNotice"
* extension[+].url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.title"
* extension[=].valueString = "LUS-meddelande till min organisation"
* extension[+].url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.description"
* extension[=].valueMarkdown = "A LUS notice (Communication) is sent, changed or retracted (status entered-in-error). Filter by recipient to receive the notices addressed to one organisation."
* extension[+].url = $trigger
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "A Communication in the LUS notice profile is created or updated."
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "http://hl7.org/fhir/StructureDefinition/Communication"
* extension[=].extension[+].url = "supportedInteraction"
* extension[=].extension[=].valueCode = #create
* extension[=].extension[+].url = "supportedInteraction"
* extension[=].extension[=].valueCode = #update
* extension[=].extension[+].url = "fhirPathCriteria"
* extension[=].extension[=].valueString = "%current.category.coding.where(system = 'https://lus.example.se/fhir/CodeSystem/lus-notice-type').exists()"
* extension[+].url = $canFilterBy
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "The receiving organisation: Organization/[id]"
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "Communication"
* extension[=].extension[+].url = "filterParameter"
* extension[=].extension[=].valueString = "recipient"
* extension[+].url = $canFilterBy
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "The sending organisation"
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "Communication"
* extension[=].extension[+].url = "filterParameter"
* extension[=].extension[=].valueString = "sender"
* extension[+].url = $canFilterBy
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "The notice type (lus-notice-type)"
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "Communication"
* extension[=].extension[+].url = "filterParameter"
* extension[=].extension[=].valueString = "category"
* extension[+].url = $canFilterBy
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "The patient"
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "Communication"
* extension[=].extension[+].url = "filterParameter"
* extension[=].extension[=].valueString = "patient"
* extension[+].url = $canFilterBy
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "completed for a sent notice; entered-in-error for a retracted one"
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "Communication"
* extension[=].extension[+].url = "filterParameter"
* extension[=].extension[=].valueString = "status"
* extension[+].url = $shape
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "Communication"
* extension[=].extension[+].url = "include"
* extension[=].extension[=].valueString = "Communication:subject"
* extension[=].extension[+].url = "include"
* extension[=].extension[=].valueString = "Communication:about"
* extension[=].extension[+].url = "include"
* extension[=].extension[=].valueString = "Communication:sender"

Instance: lus-topic-task
InstanceOf: Basic
Usage: #definition
Title: "SubscriptionTopic: a LUS task owned by my organisation"
* extension[0].url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.url"
* extension[=].valueUri = "https://lus.example.se/fhir/SubscriptionTopic/task"
* insert TopicCode
* extension[+].url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.name"
* extension[=].valueString = "LUSTask"
* extension[+].url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.title"
* extension[=].valueString = "LUS-uppgift för min organisation: ny, ändrad eller försenad"
* extension[+].url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.description"
* extension[=].valueMarkdown = "A LUS task is created or changed, including when it becomes overdue (businessStatus forsenad). Filter by owner to receive the tasks of one organisation."
* extension[+].url = $trigger
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "A Task with a LUS task code is created or updated."
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "http://hl7.org/fhir/StructureDefinition/Task"
* extension[=].extension[+].url = "supportedInteraction"
* extension[=].extension[=].valueCode = #create
* extension[=].extension[+].url = "supportedInteraction"
* extension[=].extension[=].valueCode = #update
* extension[=].extension[+].url = "fhirPathCriteria"
* extension[=].extension[=].valueString = "%current.code.coding.where(system = 'https://lus.example.se/fhir/CodeSystem/lus-task-type').exists()"
* extension[+].url = $canFilterBy
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "The organisation that must do the task: Organization/[id]"
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "Task"
* extension[=].extension[+].url = "filterParameter"
* extension[=].extension[=].valueString = "owner"
* extension[+].url = $canFilterBy
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "The task type (lus-task-type)"
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "Task"
* extension[=].extension[+].url = "filterParameter"
* extension[=].extension[=].valueString = "code"
* extension[+].url = $canFilterBy
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "The task's status"
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "Task"
* extension[=].extension[+].url = "filterParameter"
* extension[=].extension[=].valueString = "status"
* extension[+].url = $canFilterBy
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "forsenad for an overdue task"
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "Task"
* extension[=].extension[+].url = "filterParameter"
* extension[=].extension[=].valueString = "business-status"
* extension[+].url = $canFilterBy
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "The patient"
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "Task"
* extension[=].extension[+].url = "filterParameter"
* extension[=].extension[=].valueString = "patient"
* extension[+].url = $shape
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "Task"
* extension[=].extension[+].url = "include"
* extension[=].extension[=].valueString = "Task:focus"
* extension[=].extension[+].url = "include"
* extension[=].extension[=].valueString = "Task:patient"

Instance: lus-topic-task-overdue
InstanceOf: Basic
Usage: #definition
Title: "SubscriptionTopic: a LUS task of my organisation became overdue"
* extension[0].url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.url"
* extension[=].valueUri = "https://lus.example.se/fhir/SubscriptionTopic/task-overdue"
* insert TopicCode
* extension[+].url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.name"
* extension[=].valueString = "LUSTaskOverdue"
* extension[+].url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.title"
* extension[=].valueString = "LUS-uppgift försenad"
* extension[+].url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.description"
* extension[=].valueMarkdown = "A LUS task passed its deadline (restriction.period.end) before it was done: its businessStatus became forsenad. Filter by owner for one's own tasks, or by requester for the tasks one is waiting for."
* extension[+].url = $trigger
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "A Task's businessStatus changes to forsenad."
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "http://hl7.org/fhir/StructureDefinition/Task"
* extension[=].extension[+].url = "supportedInteraction"
* extension[=].extension[=].valueCode = #update
* extension[=].extension[+].url = "queryCriteria"
* extension[=].extension[=].extension[+].url = "previous"
* extension[=].extension[=].extension[=].valueString = "business-status:not=forsenad"
* extension[=].extension[=].extension[+].url = "resultForCreate"
* extension[=].extension[=].extension[=].valueCode = #test-passes
* extension[=].extension[=].extension[+].url = "current"
* extension[=].extension[=].extension[=].valueString = "business-status=forsenad"
* extension[=].extension[=].extension[+].url = "resultForDelete"
* extension[=].extension[=].extension[=].valueCode = #test-fails
* extension[=].extension[=].extension[+].url = "requireBoth"
* extension[=].extension[=].extension[=].valueBoolean = true
* extension[=].extension[+].url = "fhirPathCriteria"
* extension[=].extension[=].valueString = "(%previous.id.empty() or %previous.businessStatus.coding.where(code = 'forsenad').empty()) and %current.businessStatus.coding.where(system = 'https://lus.example.se/fhir/CodeSystem/lus-task-business-status' and code = 'forsenad').exists()"
* extension[+].url = $canFilterBy
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "The organisation that must do the task: Organization/[id]"
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "Task"
* extension[=].extension[+].url = "filterParameter"
* extension[=].extension[=].valueString = "owner"
* extension[+].url = $canFilterBy
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "The organisation waiting for the task"
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "Task"
* extension[=].extension[+].url = "filterParameter"
* extension[=].extension[=].valueString = "requester"
* extension[+].url = $canFilterBy
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "The task type (lus-task-type)"
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "Task"
* extension[=].extension[+].url = "filterParameter"
* extension[=].extension[=].valueString = "code"
* extension[+].url = $shape
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "Task"
* extension[=].extension[+].url = "include"
* extension[=].extension[=].valueString = "Task:focus"

Instance: lus-topic-careplan
InstanceOf: Basic
Usage: #definition
Title: "SubscriptionTopic: a care plan my organisation takes part in changed"
* extension[0].url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.url"
* extension[=].valueUri = "https://lus.example.se/fhir/SubscriptionTopic/careplan"
* insert TopicCode
* extension[+].url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.name"
* extension[=].valueString = "LUSCarePlan"
* extension[+].url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.title"
* extension[=].valueString = "Samordnad plan ändrad"
* extension[+].url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.description"
* extension[=].valueMarkdown = "A SIP or SPU (CarePlan) is made or changed. Filter by contributor to follow the plans one's organisation takes part in."
* extension[+].url = $trigger
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "A CarePlan with a LUS care plan type is created or updated."
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "http://hl7.org/fhir/StructureDefinition/CarePlan"
* extension[=].extension[+].url = "supportedInteraction"
* extension[=].extension[=].valueCode = #create
* extension[=].extension[+].url = "supportedInteraction"
* extension[=].extension[=].valueCode = #update
* extension[=].extension[+].url = "fhirPathCriteria"
* extension[=].extension[=].valueString = "%current.category.coding.where(system = 'https://lus.example.se/fhir/CodeSystem/lus-care-plan-type').exists()"
* extension[+].url = $canFilterBy
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "A party that takes part in the plan: Organization/[id]"
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "CarePlan"
* extension[=].extension[+].url = "filterParameter"
* extension[=].extension[=].valueString = "contributor"
* extension[+].url = $canFilterBy
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "The care team of the plan"
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "CarePlan"
* extension[=].extension[+].url = "filterParameter"
* extension[=].extension[=].valueString = "care-team"
* extension[+].url = $canFilterBy
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "The plan type (SIP, SPU, ...)"
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "CarePlan"
* extension[=].extension[+].url = "filterParameter"
* extension[=].extension[=].valueString = "category"
* extension[+].url = $canFilterBy
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "The patient"
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "CarePlan"
* extension[=].extension[+].url = "filterParameter"
* extension[=].extension[=].valueString = "patient"
* extension[+].url = $shape
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "CarePlan"
* extension[=].extension[+].url = "include"
* extension[=].extension[=].valueString = "CarePlan:care-team"
* extension[=].extension[+].url = "include"
* extension[=].extension[=].valueString = "CarePlan:activity-reference"

Instance: lus-topic-stay-state
InstanceOf: Basic
Usage: #definition
Title: "SubscriptionTopic: the LUS state of a stay changed"
* extension[0].url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.url"
* extension[=].valueUri = "https://lus.example.se/fhir/SubscriptionTopic/stay-state"
* insert TopicCode
* extension[+].url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.name"
* extension[=].valueString = "LUSStayState"
* extension[+].url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.title"
* extension[=].valueString = "Vårdtillfällets LUS-läge ändrat"
* extension[+].url = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.description"
* extension[=].valueMarkdown = "The LUS state of a stay (Encounter extension lus-state) changed, e.g. planering → utskrivningsklar."
* extension[+].url = $trigger
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "An Encounter's lus-state differs from its previous version's, or a new Encounter has one."
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "http://hl7.org/fhir/StructureDefinition/Encounter"
* extension[=].extension[+].url = "supportedInteraction"
* extension[=].extension[=].valueCode = #create
* extension[=].extension[+].url = "supportedInteraction"
* extension[=].extension[=].valueCode = #update
* extension[=].extension[+].url = "fhirPathCriteria"
* extension[=].extension[=].valueString = "%current.extension('https://lus.example.se/fhir/StructureDefinition/lus-state').exists() and %previous.extension('https://lus.example.se/fhir/StructureDefinition/lus-state').where(value.code = %current.extension('https://lus.example.se/fhir/StructureDefinition/lus-state').value.code).empty()"
* extension[+].url = $canFilterBy
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "The new state (lus-state)"
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "Encounter"
* extension[=].extension[+].url = "filterParameter"
* extension[=].extension[=].valueString = "lus-state"
* extension[+].url = $canFilterBy
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "The ward"
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "Encounter"
* extension[=].extension[+].url = "filterParameter"
* extension[=].extension[=].valueString = "service-provider"
* extension[+].url = $canFilterBy
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "The patient"
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "Encounter"
* extension[=].extension[+].url = "filterParameter"
* extension[=].extension[=].valueString = "patient"
* extension[+].url = $canFilterBy
* extension[=].extension[+].url = "description"
* extension[=].extension[=].valueMarkdown = "Somatic or psychiatric care"
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "Encounter"
* extension[=].extension[+].url = "filterParameter"
* extension[=].extension[=].valueString = "care-type"
* extension[+].url = $shape
* extension[=].extension[+].url = "resource"
* extension[=].extension[=].valueUri = "Encounter"
* extension[=].extension[+].url = "include"
* extension[=].extension[=].valueString = "Encounter:patient"
