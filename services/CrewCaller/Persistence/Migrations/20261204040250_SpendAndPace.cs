using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace CrewPlatform.CrewCaller.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class SpendAndPace : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropCheckConstraint(
                name: "ck_crew_calls_status",
                schema: "crew_caller",
                table: "crew_calls");

            migrationBuilder.AddColumn<decimal>(
                name: "cost",
                schema: "crew_caller",
                table: "crew_calls",
                type: "numeric",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "day_scope",
                schema: "crew_caller",
                table: "crew_calls",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "endpoint",
                schema: "crew_caller",
                table: "crew_calls",
                type: "character varying(64)",
                maxLength: 64,
                nullable: true);

            migrationBuilder.AddColumn<decimal>(
                name: "reserved_cost",
                schema: "crew_caller",
                table: "crew_calls",
                type: "numeric",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "cancelled_runs",
                schema: "crew_caller",
                columns: table => new
                {
                    run_id = table.Column<Guid>(type: "uuid", nullable: false),
                    cancelled_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_cancelled_runs", x => x.run_id);
                });

            migrationBuilder.CreateTable(
                name: "endpoint_pace",
                schema: "crew_caller",
                columns: table => new
                {
                    endpoint = table.Column<string>(type: "text", nullable: false),
                    next_start_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    paused_until = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_endpoint_pace", x => x.endpoint);
                });

            migrationBuilder.CreateTable(
                name: "spend_scopes",
                schema: "crew_caller",
                columns: table => new
                {
                    scope = table.Column<string>(type: "text", nullable: false),
                    calls = table.Column<int>(type: "integer", nullable: false),
                    reserved = table.Column<decimal>(type: "numeric", nullable: false),
                    spent = table.Column<decimal>(type: "numeric", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_spend_scopes", x => x.scope);
                });

            migrationBuilder.CreateIndex(
                name: "ix_crew_calls_endpoint_finished_at",
                schema: "crew_caller",
                table: "crew_calls",
                columns: new[] { "endpoint", "finished_at" },
                filter: "cost IS NOT NULL");

            migrationBuilder.AddCheckConstraint(
                name: "ck_crew_calls_status",
                schema: "crew_caller",
                table: "crew_calls",
                sql: "status IN ('calling', 'succeeded', 'failed', 'skipped')");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "cancelled_runs",
                schema: "crew_caller");

            migrationBuilder.DropTable(
                name: "endpoint_pace",
                schema: "crew_caller");

            migrationBuilder.DropTable(
                name: "spend_scopes",
                schema: "crew_caller");

            migrationBuilder.DropIndex(
                name: "ix_crew_calls_endpoint_finished_at",
                schema: "crew_caller",
                table: "crew_calls");

            migrationBuilder.DropCheckConstraint(
                name: "ck_crew_calls_status",
                schema: "crew_caller",
                table: "crew_calls");

            migrationBuilder.DropColumn(
                name: "cost",
                schema: "crew_caller",
                table: "crew_calls");

            migrationBuilder.DropColumn(
                name: "day_scope",
                schema: "crew_caller",
                table: "crew_calls");

            migrationBuilder.DropColumn(
                name: "endpoint",
                schema: "crew_caller",
                table: "crew_calls");

            migrationBuilder.DropColumn(
                name: "reserved_cost",
                schema: "crew_caller",
                table: "crew_calls");

            migrationBuilder.AddCheckConstraint(
                name: "ck_crew_calls_status",
                schema: "crew_caller",
                table: "crew_calls",
                sql: "status IN ('calling', 'succeeded', 'failed')");
        }
    }
}
