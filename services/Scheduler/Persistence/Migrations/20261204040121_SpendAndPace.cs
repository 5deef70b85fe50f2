using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace CrewPlatform.Scheduler.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class SpendAndPace : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_runs_completed_at",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.DropIndex(
                name: "ix_runs_schedule_id_started_at",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.AddColumn<int>(
                name: "max_calls_per_run",
                schema: "scheduler",
                table: "schedule",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<decimal>(
                name: "max_spend_per_day",
                schema: "scheduler",
                table: "schedule",
                type: "numeric",
                nullable: true);

            migrationBuilder.AddColumn<decimal>(
                name: "max_spend_per_run",
                schema: "scheduler",
                table: "schedule",
                type: "numeric",
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "budget_exhausted",
                schema: "scheduler",
                table: "runs",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "cancel_requested_at",
                schema: "scheduler",
                table: "runs",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "cancelled",
                schema: "scheduler",
                table: "runs",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<int>(
                name: "max_calls_per_run",
                schema: "scheduler",
                table: "runs",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<decimal>(
                name: "max_spend_per_day",
                schema: "scheduler",
                table: "runs",
                type: "numeric",
                nullable: true);

            migrationBuilder.AddColumn<decimal>(
                name: "max_spend_per_run",
                schema: "scheduler",
                table: "runs",
                type: "numeric",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "skip_reason",
                schema: "scheduler",
                table: "runs",
                type: "character varying(16)",
                maxLength: 16,
                nullable: true);

            migrationBuilder.AddColumn<decimal>(
                name: "spent",
                schema: "scheduler",
                table: "runs",
                type: "numeric",
                nullable: false,
                defaultValue: 0m);

            migrationBuilder.AddColumn<decimal>(
                name: "cost",
                schema: "scheduler",
                table: "run_users",
                type: "numeric",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "duration_ms",
                schema: "scheduler",
                table: "run_users",
                type: "bigint",
                nullable: true);

            // Every skip before this version was an overlap skip.
            migrationBuilder.Sql("UPDATE scheduler.runs SET skip_reason = 'overlap' WHERE status = 'skipped'");

            migrationBuilder.CreateIndex(
                name: "IX_runs_completed_at",
                schema: "scheduler",
                table: "runs",
                column: "completed_at",
                filter: "status IN ('completed', 'cancelled') AND completion_published_at IS NULL");

            migrationBuilder.CreateIndex(
                name: "ix_runs_schedule_id_started_at",
                schema: "scheduler",
                table: "runs",
                columns: new[] { "schedule_id", "started_at" },
                descending: new[] { false, true })
                .Annotation("Npgsql:IndexInclude", new[] { "spent" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_runs_completed_at",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.DropIndex(
                name: "ix_runs_schedule_id_started_at",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "max_calls_per_run",
                schema: "scheduler",
                table: "schedule");

            migrationBuilder.DropColumn(
                name: "max_spend_per_day",
                schema: "scheduler",
                table: "schedule");

            migrationBuilder.DropColumn(
                name: "max_spend_per_run",
                schema: "scheduler",
                table: "schedule");

            migrationBuilder.DropColumn(
                name: "budget_exhausted",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "cancel_requested_at",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "cancelled",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "max_calls_per_run",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "max_spend_per_day",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "max_spend_per_run",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "skip_reason",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "spent",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "cost",
                schema: "scheduler",
                table: "run_users");

            migrationBuilder.DropColumn(
                name: "duration_ms",
                schema: "scheduler",
                table: "run_users");

            migrationBuilder.CreateIndex(
                name: "IX_runs_completed_at",
                schema: "scheduler",
                table: "runs",
                column: "completed_at",
                filter: "status = 'completed' AND completion_published_at IS NULL");

            migrationBuilder.CreateIndex(
                name: "ix_runs_schedule_id_started_at",
                schema: "scheduler",
                table: "runs",
                columns: new[] { "schedule_id", "started_at" },
                descending: new[] { false, true });
        }
    }
}
