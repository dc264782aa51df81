// Operations on a stay (fhir_server/transitions/operations.py).

Instance: lus-hemgangsklar-operation
InstanceOf: OperationDefinition
Usage: #definition
* id = "lus-hemgangsklar"
* url = "https://lus.example.se/fhir/OperationDefinition/lus-hemgangsklar"
* version = "0.1.0"
* name = "Hemgangsklar"
* title = "Hemgångsklar: kontrollpunkter klara"
* status = #active
* kind = #operation
* experimental = false
* publisher = "LUS FHIR server project"
* description = "Items of the region's hemgångsklar checklist (configuration) done for the stay, recorded on the Encounter as lus-hemgangsklar-check extensions. Open while the stay is utskrivningsklar (422 otherwise); an item not on the region's checklist is 400. When every item is done after the running utskrivningsklar notice, the stay's state becomes hemgangsklar. Answers as $hemgangsklar-status."
* code = #hemgangsklar
* resource = #Encounter
* system = false
* type = false
* instance = true
* affectsState = true
* parameter[0].name = #item
* parameter[0].use = #in
* parameter[0].min = 1
* parameter[0].max = "*"
* parameter[0].type = #code
* parameter[0].documentation = "A code of the region's checklist."
* parameter[1].name = #by
* parameter[1].use = #in
* parameter[1].min = 0
* parameter[1].max = "1"
* parameter[1].type = #Reference
* parameter[1].documentation = "Who confirmed the items (Organization, Practitioner or PractitionerRole)."
* parameter[2].name = #time
* parameter[2].use = #in
* parameter[2].min = 0
* parameter[2].max = "1"
* parameter[2].type = #dateTime
* parameter[2].documentation = "When they were done; absent: now."
* parameter[3].name = #return
* parameter[3].use = #out
* parameter[3].min = 1
* parameter[3].max = "1"
* parameter[3].type = #Parameters
* parameter[3].documentation = "The checklist as $hemgangsklar-status gives it."

Instance: lus-hemgangsklar-status-operation
InstanceOf: OperationDefinition
Usage: #definition
* id = "lus-hemgangsklar-status"
* url = "https://lus.example.se/fhir/OperationDefinition/lus-hemgangsklar-status"
* version = "0.1.0"
* name = "HemgangsklarStatus"
* title = "Hemgångsklar: checklistan"
* status = #active
* kind = #operation
* experimental = false
* publisher = "LUS FHIR server project"
* description = "The stay's region, its hemgångsklar checklist and what of it is done since the running utskrivningsklar notice: parameters region (string), complete (boolean), state (code), and one item per checklist entry with parts code, display, done (dateTime) and by (Reference)."
* code = #hemgangsklar-status
* resource = #Encounter
* system = false
* type = false
* instance = true
* affectsState = false
* parameter[0].name = #return
* parameter[0].use = #out
* parameter[0].min = 1
* parameter[0].max = "1"
* parameter[0].type = #Parameters
* parameter[0].documentation = "The checklist and what is done."
