import { and, asc, eq, isNull } from 'drizzle-orm';
import { z } from 'zod';
import { animals, regimens } from '../db/index.js';
import { can, requireAnimalAccess, requireHouseholdRole } from '../trpc/access.js';
import { protectedProcedure, router } from '../trpc/init.js';
import { animalInput, householdInput, isoDate, name, optionalText, positiveDecimal } from './inputs.js';

const animalFields = z.object({
  name,
  species: z.string().trim().min(1).max(60),
  breed: optionalText(80),
  birthDate: isoDate.optional(),
  /** `numeric(7, 3)`. */
  weightKg: positiveDecimal(3, 9_999.999).optional(),
  notes: optionalText(2000),
});

export const animalsRouter = router({
  list: protectedProcedure
    .input(householdInput.extend({ includeArchived: z.boolean().default(false) }))
    .query(async ({ ctx, input }) => {
      await requireHouseholdRole(ctx.db, ctx.user.id, input.householdId, can.read);
      return ctx.db
        .select()
        .from(animals)
        .where(
          and(
            eq(animals.householdId, input.householdId),
            input.includeArchived ? undefined : isNull(animals.archivedAt),
          ),
        )
        .orderBy(asc(animals.name));
    }),

  /** The animal with its regimens and their medications. */
  get: protectedProcedure.input(animalInput).query(async ({ ctx, input }) => {
    await requireAnimalAccess(ctx.db, ctx.user.id, input.animalId, can.read);
    return ctx.db.query.animals.findFirst({
      where: eq(animals.id, input.animalId),
      with: { regimens: { with: { medication: true }, orderBy: [asc(regimens.startsAt)] } },
    });
  }),

  create: protectedProcedure
    .input(householdInput.extend(animalFields.shape))
    .mutation(async ({ ctx, input }) => {
      await requireHouseholdRole(ctx.db, ctx.user.id, input.householdId, can.care);
      const [animal] = await ctx.db.insert(animals).values(input).returning();
      return animal!;
    }),

  update: protectedProcedure
    .input(animalInput.extend(animalFields.partial().shape))
    .mutation(async ({ ctx, input }) => {
      await requireAnimalAccess(ctx.db, ctx.user.id, input.animalId, can.care);
      const { animalId, ...changes } = input;
      const [animal] = await ctx.db
        .update(animals)
        .set({ ...changes, updatedAt: new Date() })
        .where(eq(animals.id, animalId))
        .returning();
      return animal!;
    }),

  /** Hides the animal from lists; its history stays. */
  archive: protectedProcedure.input(animalInput).mutation(async ({ ctx, input }) => {
    await requireAnimalAccess(ctx.db, ctx.user.id, input.animalId, can.care);
    const [animal] = await ctx.db
      .update(animals)
      .set({ archivedAt: new Date(), updatedAt: new Date() })
      .where(eq(animals.id, input.animalId))
      .returning();
    return animal!;
  }),

  /** Deletes the animal and its whole history. Owners only. */
  delete: protectedProcedure.input(animalInput).mutation(async ({ ctx, input }) => {
    await requireAnimalAccess(ctx.db, ctx.user.id, input.animalId, can.administer);
    const deleted = await ctx.db
      .delete(animals)
      .where(eq(animals.id, input.animalId))
      .returning({ id: animals.id });
    return { deleted: deleted.length };
  }),
});
