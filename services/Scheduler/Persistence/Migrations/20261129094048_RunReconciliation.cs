using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace CrewPlatform.Scheduler.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class RunReconciliation : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "completion_published_at",
                schema: "scheduler",
                table: "runs",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "fan_out_after_uid",
                schema: "scheduler",
                table: "runs",
                type: "character varying(255)",
                maxLength: 255,
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "last_progress_at",
                schema: "scheduler",
                table: "runs",
                type: "timestamp with time zone",
                nullable: false,
                defaultValue: new DateTimeOffset(new DateTime(1, 1, 1, 0, 0, 0, 0, DateTimeKind.Unspecified), new TimeSpan(0, 0, 0, 0, 0)));

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "last_reconciled_at",
                schema: "scheduler",
                table: "runs",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "next_page_number",
                schema: "scheduler",
                table: "runs",
                type: "integer",
                nullable: false,
                defaultValue: 1);

            migrationBuilder.AddColumn<bool>(
                name: "replay_failed",
                schema: "scheduler",
                table: "run_users",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            // Runs from before this migration: a running one counts as progressing from now (it gets the full thresholds
            // before the reconciler steps in), and a completed one as announced (the previous version published it, or
            // lost it without trace: re-announcing the whole history would be worse).
            migrationBuilder.Sql(
                """
                UPDATE scheduler.runs SET
                    last_progress_at = CASE WHEN status = 'running' THEN now() ELSE coalesce(completed_at, started_at) END,
                    completion_published_at = CASE WHEN status = 'completed' THEN completed_at END;
                """);

            migrationBuilder.CreateIndex(
                name: "IX_runs_completed_at",
                schema: "scheduler",
                table: "runs",
                column: "completed_at",
                filter: "status = 'completed' AND completion_published_at IS NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_runs_completed_at",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "completion_published_at",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "fan_out_after_uid",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "last_progress_at",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "last_reconciled_at",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "next_page_number",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "replay_failed",
                schema: "scheduler",
                table: "run_users");
        }
    }
}
