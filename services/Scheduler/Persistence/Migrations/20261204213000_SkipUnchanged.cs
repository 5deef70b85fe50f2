using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace CrewPlatform.Scheduler.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class SkipUnchanged : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "skip_unchanged_for_minutes",
                schema: "scheduler",
                table: "schedule",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "skip_unchanged_for_minutes",
                schema: "scheduler",
                table: "runs",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "unchanged",
                schema: "scheduler",
                table: "runs",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "answer_stored_at",
                schema: "scheduler",
                table: "run_users",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "endpoint",
                schema: "scheduler",
                table: "run_users",
                type: "character varying(40)",
                maxLength: 40,
                nullable: true);

            migrationBuilder.AddColumn<byte[]>(
                name: "input_digest",
                schema: "scheduler",
                table: "run_users",
                type: "bytea",
                nullable: true);

            // Answers stored before this version have no recorded input: their users are called again, never skipped.
            migrationBuilder.CreateIndex(
                name: "IX_run_users_latest_answer",
                schema: "scheduler",
                table: "run_users",
                columns: new[] { "user_uid", "endpoint", "answer_stored_at" },
                descending: new[] { false, false, true },
                filter: "answer_stored_at IS NOT NULL")
                .Annotation("Npgsql:IndexInclude", new[] { "input_digest" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_run_users_latest_answer",
                schema: "scheduler",
                table: "run_users");

            migrationBuilder.DropColumn(
                name: "skip_unchanged_for_minutes",
                schema: "scheduler",
                table: "schedule");

            migrationBuilder.DropColumn(
                name: "skip_unchanged_for_minutes",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "unchanged",
                schema: "scheduler",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "answer_stored_at",
                schema: "scheduler",
                table: "run_users");

            migrationBuilder.DropColumn(
                name: "endpoint",
                schema: "scheduler",
                table: "run_users");

            migrationBuilder.DropColumn(
                name: "input_digest",
                schema: "scheduler",
                table: "run_users");
        }
    }
}
