"""Administrators' rule-set pages."""

from django.urls import path

from . import views

urlpatterns = [
    path("rulesets/", views.ruleset_list, name="ruleset_list"),
    path("rulesets/from-preset/", views.ruleset_from_preset, name="ruleset_from_preset"),
    path("rulesets/<int:version>/", views.ruleset_detail, name="ruleset_detail"),
    path("rulesets/<int:version>/file/", views.ruleset_file_download, name="ruleset_file_download"),
    path("rulesets/<int:version>/preview/", views.ruleset_preview, name="ruleset_preview"),
    path("rulesets/<int:version>/preview/start/", views.ruleset_preview_start, name="ruleset_preview_start"),
    path("rulesets/<int:version>/preview/progress/", views.ruleset_preview_progress, name="ruleset_preview_progress"),
    path("rulesets/<int:version>/product-add/", views.ruleset_product_add, name="ruleset_product_add"),
    path("rulesets/<int:version>/products/<slug:code>/", views.ruleset_product, name="ruleset_product"),
    path("rulesets/<int:version>/products/<slug:code>/remove/", views.ruleset_product_remove,
         name="ruleset_product_remove"),
    path("rulesets/<int:version>/rule/", views.ruleset_rule, name="ruleset_rule"),
    path("rulesets/<int:version>/group/", views.ruleset_group, name="ruleset_group"),
    path("rulesets/<int:version>/describe/", views.ruleset_describe, name="ruleset_describe"),
    path("rulesets/<int:version>/approve/", views.ruleset_approve, name="ruleset_approve"),
    path("rulesets/<int:version>/publish/", views.ruleset_publish, name="ruleset_publish"),
    path("rulesets/<int:version>/reevaluation/", views.ruleset_reevaluation, name="ruleset_reevaluation"),
    path("rulesets/<int:version>/reevaluation/resume/", views.ruleset_reevaluation_resume,
         name="ruleset_reevaluation_resume"),
    path("rulesets/<int:version>/discard/", views.ruleset_discard, name="ruleset_discard"),
]
