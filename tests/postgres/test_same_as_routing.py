"""The store-agnostic tests of tests.test_routing, run again on PostgreSQL (``db`` is a URL: see conftest).

Imported, not copied; tests that read the SQLite file directly stay in their own tier only.
"""

from tests.test_routing import (  # noqa: F401
    make_app,
    test_a_binding_with_an_empty_word_is_refused_naming_the_queue_and_the_fix,
    test_a_celery3_router_class_given_by_dotted_name_is_imported_and_used,
    test_a_delivery_mode_other_than_1_or_2_is_refused,
    test_a_direct_exchange_matches_keys_literally,
    test_a_key_matching_no_queue_goes_to_the_default_queue_with_a_warning,
    test_a_key_matching_no_queue_is_refused_when_missing_queues_are_not_created,
    test_a_key_matching_several_queues_gives_one_job_per_queue_and_the_first_queues_result,
    test_a_queue_declared_twice_is_bound_by_both_keys_and_gets_one_job,
    test_a_queue_declared_twice_with_different_delivery_modes_is_refused,
    test_a_queue_on_another_exchange_is_reached_only_through_that_exchange,
    test_a_route_to_an_undeclared_queue_is_refused_on_load_when_missing_queues_are_not_created,
    test_a_router_function_returning_a_bad_route_fails_the_call_and_enqueues_nothing,
    test_a_transient_job_whose_worker_died_leaves_no_row_once_it_has_failed,
    test_an_unknown_exchange_type_is_refused_naming_the_key_and_the_choices,
    test_celery3_settings_load_from_a_module,
    test_claim_with_a_fair_share_takes_from_every_queue_then_fills_up,
    test_malformed_task_routes_are_refused_on_assignment,
    test_precedence_is_call_then_task_then_routes_then_default,
    test_queues_command_lists_bindings_modes_and_counts,
    test_queues_command_reports_a_bad_database_in_one_line,
    test_queues_without_an_app_shows_the_queues_found_in_the_store,
    test_revoking_a_waiting_transient_job_leaves_no_row,
    test_router_functions_receive_the_task_object_when_it_is_registered,
    test_routing_settings_assigned_one_by_one_may_come_in_any_order_and_are_checked_at_first_send,
    test_task_routes_dict_takes_exact_names_before_glob_patterns_and_regexes,
    test_task_routes_list_is_checked_in_order_and_a_router_that_returns_none_passes,
    test_the_guide_example_routes_by_task_routes_default_key_and_topic_bindings,
    test_topic_matching_follows_amqp_rules,
    test_worker_queue_selection_drops_excluded_and_refuses_undeclared_names,
)
