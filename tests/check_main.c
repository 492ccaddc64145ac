/* check_main.c - one SRunner over every suite */
#include <stdlib.h>

#include "check-suites.h"
#include "smimeguard.h"

int main(void)
{
	SRunner *sr;
	int failed;

	if (sg_init() < 0)
		return EXIT_FAILURE;
	sr = srunner_create(make_names_suite());
	srunner_add_suite(sr, make_config_suite());
	srunner_add_suite(sr, make_mime_suite());
	srunner_add_suite(sr, make_verify_suite());
	srunner_add_suite(sr, make_json_suite());
	srunner_add_suite(sr, make_policy_suite());
	srunner_add_suite(sr, make_policy_proto_suite());
	srunner_add_suite(sr, make_certmap_suite());
	srunner_add_suite(sr, make_ldap_suite());
	srunner_add_suite(sr, make_doctor_suite());
	srunner_add_suite(sr, make_icache_suite());
	srunner_add_suite(sr, make_keystore_suite());
	srunner_add_suite(sr, make_keyd_suite());
	srunner_add_suite(sr, make_dirindex_suite());
	srunner_add_suite(sr, make_cases_suite());
	srunner_add_suite(sr, make_corpora_suite());
	srunner_add_suite(sr, make_hostile_suite());
	srunner_add_suite(sr, make_limits_suite());
	srunner_add_suite(sr, make_threads_suite());
	srunner_add_suite(sr, make_stream_suite());
	srunner_add_suite(sr, make_stats_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
