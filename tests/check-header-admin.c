/* check-header-admin.c - smimeguard-admin.h must compile with nothing
   included before (it brings smimeguard.h with it) */
#include "smimeguard-admin.h"

int main(void)
{
	const char *(*aia_name)(enum sg_aia_outcome) = sg_aia_outcome_name;

	return sg_status_name(SG_STATUS_NONE) == NULL || aia_name == NULL;
}
