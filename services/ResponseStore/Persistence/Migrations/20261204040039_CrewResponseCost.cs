using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace CrewPlatform.ResponseStore.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class CrewResponseCost : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<decimal>(
                name: "cost",
                schema: "public",
                table: "crew_responses",
                type: "numeric",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "cost",
                schema: "public",
                table: "crew_responses");
        }
    }
}
