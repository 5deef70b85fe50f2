using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace CrewPlatform.ResponseStore.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class CreatedAtIdIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "idx_crew_responses_created_at",
                schema: "public",
                table: "crew_responses");

            migrationBuilder.CreateIndex(
                name: "idx_crew_responses_created_at",
                schema: "public",
                table: "crew_responses",
                columns: new[] { "created_at", "id" },
                descending: new bool[0]);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "idx_crew_responses_created_at",
                schema: "public",
                table: "crew_responses");

            migrationBuilder.CreateIndex(
                name: "idx_crew_responses_created_at",
                schema: "public",
                table: "crew_responses",
                column: "created_at",
                descending: new bool[0]);
        }
    }
}
