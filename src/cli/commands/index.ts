import type { RegisterCommand } from '../context.ts';
import { registerValidate } from './validate.ts';

/** Every top-level command, in the order `pathlab --help` lists them. */
export const commands: RegisterCommand[] = [registerValidate];
