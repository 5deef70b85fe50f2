using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace CrewPlatform.ResponseStore.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class RunOrigins : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.EnsureSchema(
                name: "response_store");

            migrationBuilder.CreateTable(
                name: "run_origins",
                schema: "response_store",
                columns: table => new
                {
                    run_id = table.Column<Guid>(type: "uuid", nullable: false),
                    schedule_id = table.Column<int>(type: "integer", nullable: true),
                    endpoint = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_run_origins", x => x.run_id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_run_origins_endpoint",
                schema: "response_store",
                table: "run_origins",
                column: "endpoint");

            migrationBuilder.CreateIndex(
                name: "ix_run_origins_schedule_id",
                schema: "response_store",
                table: "run_origins",
                column: "schedule_id");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "run_origins",
                schema: "response_store");
        }
    }
}
