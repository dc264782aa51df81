// Search parameters for our extensions and for elements R4 does not search by. Expressions
// are plain paths and extension('url').value, which the server's compiled FHIRPath walks.

Instance: Encounter-estimated-discharge
InstanceOf: SearchParameter
Usage: #definition
* url = "https://lus.example.se/fhir/SearchParameter/Encounter-estimated-discharge"
* version = "0.1.0"
* name = "EstimatedDischarge"
* status = #active
* experimental = false
* publisher = "LUS FHIR server project"
* description = "The estimated time of discharge of a stay (beräknad tidpunkt för utskrivning)."
* code = #estimated-discharge
* base = #Encounter
* type = #date
* expression = "Encounter.extension('https://lus.example.se/fhir/StructureDefinition/lus-estimated-discharge').value"
* xpathUsage = #normal

Instance: Encounter-utskrivningsklar
InstanceOf: SearchParameter
Usage: #definition
* url = "https://lus.example.se/fhir/SearchParameter/Encounter-utskrivningsklar"
* version = "0.1.0"
* name = "Utskrivningsklar"
* status = #active
* experimental = false
* publisher = "LUS FHIR server project"
* description = "When the stay became utskrivningsklar (the sent time of the utskrivningsklar notice that started the current clock)."
* code = #utskrivningsklar
* base = #Encounter
* type = #date
* expression = "Encounter.extension('https://lus.example.se/fhir/StructureDefinition/lus-utskrivningsklar-time').value"
* xpathUsage = #normal

Instance: Encounter-lus-state
InstanceOf: SearchParameter
Usage: #definition
* url = "https://lus.example.se/fhir/SearchParameter/Encounter-lus-state"
* version = "0.1.0"
* name = "LusState"
* status = #active
* experimental = false
* publisher = "LUS FHIR server project"
* description = "The state of the stay in the LUS process (inskriven, planering, utskrivningsklar, ...)."
* code = #lus-state
* base = #Encounter
* type = #token
* expression = "Encounter.extension('https://lus.example.se/fhir/StructureDefinition/lus-state').value"
* xpathUsage = #normal

Instance: Encounter-care-type
InstanceOf: SearchParameter
Usage: #definition
* url = "https://lus.example.se/fhir/SearchParameter/Encounter-care-type"
* version = "0.1.0"
* name = "CareType"
* status = #active
* experimental = false
* publisher = "LUS FHIR server project"
* description = "Somatic or psychiatric care (Encounter.serviceType)."
* code = #care-type
* base = #Encounter
* type = #token
* expression = "Encounter.serviceType"
* xpathUsage = #normal

Instance: Patient-kommunkod
InstanceOf: SearchParameter
Usage: #definition
* url = "https://lus.example.se/fhir/SearchParameter/Patient-kommunkod"
* version = "0.1.0"
* name = "Kommunkod"
* status = #active
* experimental = false
* publisher = "LUS FHIR server project"
* description = "The municipality (kommunkod) of an address of the patient."
* code = #kommunkod
* base = #Patient
* type = #token
* expression = "Patient.address.extension('https://lus.example.se/fhir/StructureDefinition/lus-kommunkod').value"
* xpathUsage = #normal

Instance: Communication-about
InstanceOf: SearchParameter
Usage: #definition
* url = "https://lus.example.se/fhir/SearchParameter/Communication-about"
* version = "0.1.0"
* name = "About"
* status = #active
* experimental = false
* publisher = "LUS FHIR server project"
* description = "The stay (or other resource) a notice is about."
* code = #about
* base = #Communication
* type = #reference
* expression = "Communication.about"
* xpathUsage = #normal
* target[0] = #Encounter

Instance: Communication-in-response-to
InstanceOf: SearchParameter
Usage: #definition
* url = "https://lus.example.se/fhir/SearchParameter/Communication-in-response-to"
* version = "0.1.0"
* name = "InResponseTo"
* status = #active
* experimental = false
* publisher = "LUS FHIR server project"
* description = "The notice that an acknowledgement or a reply answers."
* code = #in-response-to
* base = #Communication
* type = #reference
* expression = "Communication.inResponseTo"
* xpathUsage = #normal
* target[0] = #Communication

Instance: Task-deadline
InstanceOf: SearchParameter
Usage: #definition
* url = "https://lus.example.se/fhir/SearchParameter/Task-deadline"
* version = "0.1.0"
* name = "Deadline"
* status = #active
* experimental = false
* publisher = "LUS FHIR server project"
* description = "The deadline of a task (Task.restriction.period.end)."
* code = #deadline
* base = #Task
* type = #date
* expression = "Task.restriction.period.end"
* xpathUsage = #normal

Instance: CarePlan-contributor
InstanceOf: SearchParameter
Usage: #definition
* url = "https://lus.example.se/fhir/SearchParameter/CarePlan-contributor"
* version = "0.1.0"
* name = "Contributor"
* status = #active
* experimental = false
* publisher = "LUS FHIR server project"
* description = "A party that contributed to the plan."
* code = #contributor
* base = #CarePlan
* type = #reference
* expression = "CarePlan.contributor"
* xpathUsage = #normal
* target[0] = #Organization
* target[+] = #Patient
* target[+] = #Practitioner
* target[+] = #PractitionerRole
* target[+] = #RelatedPerson
* target[+] = #CareTeam
* target[+] = #Device

Instance: CarePlan-author
InstanceOf: SearchParameter
Usage: #definition
* url = "https://lus.example.se/fhir/SearchParameter/CarePlan-author"
* version = "0.1.0"
* name = "Author"
* status = #active
* experimental = false
* publisher = "LUS FHIR server project"
* description = "Who is responsible for the contents of the plan."
* code = #author
* base = #CarePlan
* type = #reference
* expression = "CarePlan.author"
* xpathUsage = #normal
* target[0] = #Organization
* target[+] = #Patient
* target[+] = #Practitioner
* target[+] = #PractitionerRole
* target[+] = #RelatedPerson
* target[+] = #CareTeam
* target[+] = #Device

Instance: Task-restriction-recipient
InstanceOf: SearchParameter
Usage: #definition
* url = "https://lus.example.se/fhir/SearchParameter/Task-restriction-recipient"
* version = "0.1.0"
* name = "RestrictionRecipient"
* status = #active
* experimental = false
* publisher = "LUS FHIR server project"
* description = "For whom the task is to be fulfilled (Task.restriction.recipient)."
* code = #restriction-recipient
* base = #Task
* type = #reference
* expression = "Task.restriction.recipient"
* xpathUsage = #normal
* target[0] = #Organization
* target[+] = #Patient
* target[+] = #Practitioner
* target[+] = #PractitionerRole
* target[+] = #RelatedPerson
* target[+] = #Group
