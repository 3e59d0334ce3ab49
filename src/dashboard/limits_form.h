/*
 * limits_form: the table of limits at one scope (global or a plan) with
 * their inherited values, and the form that edits them.
 *
 * DESIGN
 * A value shown at a scope is the one set there, else the inherited one
 * (global, then the built-in default) with its source. The form posts
 * "v.<name>" for every limit editable at the scope and "unset.<name>" for the
 * ones to clear; every value is validated (limit_validate) before any is
 * written, so a bad field changes nothing and the page comes back with the
 * message next to the field and what the user typed.
 */
#ifndef AH_DASHBOARD_LIMITS_FORM_H
#define AH_DASHBOARD_LIMITS_FORM_H

#include <stdint.h>

#include "enforce/limits.h"

struct req;
struct page;

/*
 * Fill Limits.N.{Name, Help, Value, Source, Set, Input, Error} for every
 * limit editable at scope (LS_GLOBAL, or LS_PLAN with plan_id and
 * plan_name) and LimitsForm.Path (where templates/limits_form.cs posts).
 * When r is a POST that failed validation, inputs and errors come from it.
 * A database error becomes p's sticky error (the 503 page).
 */
void limits_form_fill(struct req *r, struct page *p, enum limit_scope scope, int64_t plan_id,
                      const char *plan_name, int posted);
/*
 * Apply the posted form at scope. 1 when saved (*changed gets how many
 * limits changed), 0 when a value is invalid (nothing written), -1 on a
 * database error.
 */
int limits_form_apply(struct req *r, enum limit_scope scope, int64_t plan_id, int *changed);

#endif
