.PHONY: test validate

# The project's test command (gofmt, vet, race tests, short fuzzing).
test:
	scripts/test.sh

# End-to-end validation against ground truth (root: network namespaces);
# writes docs/validation.md. See scripts/validate.sh.
validate:
	scripts/validate.sh
