/*
 * gen_targets: the table of every target `scaleprof gen` writes configs for.
 * A new target is a gen_<name>.c defining its `struct gen_target` and one
 * line here; nothing else in gen asks which target it holds.
 */
#include <string.h>

#include "gen.h"

const struct gen_target *const gen_targets[] = {
    &gen_target_refproxy,
    &gen_target_tsnsrv,
    &gen_target_nginx,
    &gen_target_haproxy,
    &gen_target_caddy,
    &gen_target_template,
    NULL,
};

const struct gen_target *gen_target_find(const char *name)
{
    for (size_t i = 0; gen_targets[i]; i++)
        if (!strcmp(gen_targets[i]->name, name))
            return gen_targets[i];
    return NULL;
}

const char *gen_setting(const struct gen_options *o, const char *key)
{
    const char *value = NULL;
    for (size_t i = 0; i < o->num_sets; i++)
        if (!strcmp(o->sets[i].key, key))
            value = o->sets[i].value;
    return value;
}
