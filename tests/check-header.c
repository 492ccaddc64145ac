/* check-header.c - smimeguard.h must compile with nothing included before */
#include "smimeguard.h"

int main(void)
{
	return sg_status_name(SG_STATUS_NONE) == NULL;
}
