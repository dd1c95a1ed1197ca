/*
 * tests/fuzz/fuzz_config.c - arbitrary bytes as a YAML (first byte even) or
 * JSON (odd) config. A loader must return a config or errors, never crash,
 * and every error must carry a message.
 */
#include "config/config.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vfsmux_config *cfg = NULL;
	struct config_errors errs = { 0 };
	const char *name;
	int err;

	if (size < 1)
		return 0;
	name = (data[0] & 1) ? "fuzz.json" : "fuzz.yaml";
	err = config_load_buffer(name, (const char *)data + 1, size - 1, &cfg, &errs);
	if (err == 0) {
		if (!cfg || errs.n)
			abort();
		config_free(cfg);
	} else {
		if (cfg || errs.n == 0)
			abort();
		for (size_t i = 0; i < errs.n; i++)
			if (!errs.v[i].msg)
				abort();
	}
	config_errors_fini(&errs);
	return 0;
}
